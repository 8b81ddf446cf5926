"""Jobs beside the incremental sync: each module offers a factory `make_<name>_job(settings) -> JobFunc`."""
