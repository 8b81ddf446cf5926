"""The scheduler core: when and whether something runs. Pure Python, never imports Streamlit.

Vocabulary (one word per concept):
- *job*: something that can run, with its interval, timeout, retries and pause state (a row in ``jobs``).
- *slot*: one due instant of a job (``jobs.next_run_at``); at most one run per slot (``unique(job, scheduled_for)``).
- *run*: one execution of a job, its record in ``runs`` (status, attempt, trigger, owner, rows, error).
- *lease*: the claim a process holds on a job while its run works; it expires unless renewed, and carries a
  *fence* (an increasing token) so a run whose lease was taken over cannot commit.
- *cursor*: an incremental sync's persisted high-water mark (``sync_cursors``), committed with the data.
- *presence*: sessions seen recently; without presence the scheduler *hibernates*.
- *status*: a read-only snapshot for the UI and CLI.
- *trigger*: when a job's slots fall (interval, delay, cron, daily, once; day groups and hours windows).
- *dependency*: a job whose latest run must have succeeded in a job's window before that job runs.
- *queue*: today's planned slots of every job (``planned_runs``), renewed daily.
- *alert*: an episode of a job failing N times in a row or its data too old, raised once, closed when it clears.
- *tally*: finished runs folded into counters, so metrics stay monotonic after history is purged.
"""
