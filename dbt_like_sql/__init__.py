"""dsop's SQL models (``staging/`` views, ``marts/`` tables), shipped as package data so an installed
wheel finds them; ``dsop_assets.sql`` turns each ``.sql`` file here into an asset."""
