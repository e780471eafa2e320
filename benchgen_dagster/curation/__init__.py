"""Curation: what passes the funnel is staged, a person decides, and the release holds what is
promoted under the dataset's policy. The decisions log, the staged view and the review page."""
