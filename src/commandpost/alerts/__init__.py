"""Alert intake (guide §4): every source's native format → one normalized event → dedup → routing."""
