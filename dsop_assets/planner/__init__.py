"""The planner's week: the weekly report, action follow-up, alerts and KPI trends (issue 15)."""
