"""The background engine: processors that decide, one sender that sends, coordinated through the database."""
