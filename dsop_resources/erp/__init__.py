"""The ERP export's contract, its file/header mapping and the CSV reader: read by the ERP-folder
resource and by the raw assets alike, so they sit in the lowest layer (no Dagster assets here)."""
