"""Built-in selectors: how a cycle's budget is spent over the pool (paper §3.1, §4.4)."""
