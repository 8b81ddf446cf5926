"""Built-in jobs of the catalogue (sync, history retention, daily renewal, e-mailed report). No Streamlit."""
