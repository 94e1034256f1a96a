"""Customer analytics: segments and strategies, churn risk, product recommendations (monthly)."""
