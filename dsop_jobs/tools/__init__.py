"""Command-line tools and benchmarks that define no assets: each runs the domain functions of
``dsop_assets`` directly (``python -m dsop_jobs.tools.<name>``), outside the Dagster definitions."""
