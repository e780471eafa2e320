"""The one schema: the dataset contract (`contract`) and the pipeline's records (`records`)."""
