"""Page routers, one module per area (each calls the same services as the matching API)."""
