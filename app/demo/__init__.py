"""The built-in demo dataset: a live-looking orders source, the daily summary its sync keeps, and the
dashboard's and report's queries over the synced orders. One user of the generic sync engine and data API;
nothing in app/sync knows it. No Streamlit."""
