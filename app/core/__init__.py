"""The scheduler core: when and whether something runs. Pure Python, never imports Streamlit.

Vocabulary (one word per concept; the records are frozen dataclasses in ``app.core.records``):
- *job*: something that can run, with its trigger, timeout, retries and pause state (a row in ``jobs``, read
  as a ``JobState``). The seed's sync job is ``DEFAULT_JOB`` ("incremental_sync"); a dataset's is ``sync_<name>``.
- *slot*: one due instant of a job (``jobs.next_run_at``); at most one run per slot (``unique(job, scheduled_for)``).
- *run*: one execution of a job, its record in ``runs`` (status, attempt, reason, owner, rows, error), read as a
  ``RunRecord``. Its *reason* (``RunReason``: schedule, manual, catch-up, retry) says why it started; the CLI's
  JSON still calls it ``trigger``.
- *period*: the usual gap between a job's slots (``jobs.period_seconds``): the interval of a rate trigger, the
  typical gap of a calendar one. Freshness and catch-up measure data age against it.
- *follow-up*: one slot beside the series, a retry or a catch-up (``jobs.follow_up_at``, ``follow_up_reason``,
  ``follow_up_attempt``); it never shifts the series.
- *lease*: the claim a process holds on a job while its run works; it expires unless renewed, and carries a
  *fence* (an increasing token) so a run whose lease was taken over cannot commit.
- *cursor*: an incremental sync's persisted high-water mark (``sync_cursors``), committed with the data.
- *stop signals* (``app.errors``, all ``LeaseLostError``): ``LeaseTakenOverError`` (the fence moved on),
  ``CursorMovedError`` (the cursor's compare-and-set failed), ``RunCancelledError`` (timeout, lease lost, shutdown).
- *presence*: sessions seen recently; without presence the scheduler *hibernates*.
- *status*: a read-only snapshot for the UI and CLI (``JobStatus``); a dict only at the seed's
  ``get_scheduler_status()``.
- *store*: ``JobStore``, which writes job state, leases, runs and their purge; ``StatusReader`` only reads.
  An SQLAlchemy ``Engine`` is an *engine* (``engine``, ``source_engine``, ``destination_engine``), never a
  store; the sync's driver is the ``Syncer`` (``app.sync.engine``).
- *trigger*: when a job's slots fall (interval, delay, cron, daily, once; day groups and hours windows); only
  ever a job's schedule, never why a run started (that is its *reason*).
- *dependency*: a job whose latest run must have succeeded in a job's window before that job runs.
- *agenda*: today's planned slots of every job (``Agenda``, stored in ``agenda_slots``, read as ``AgendaEntry``
  with what happened to each), renewed daily. The CLI command and the page still say "queue".
- *alert*: an episode of a job failing N times in a row or its data too old, raised once, closed when it clears.
- *tally*: finished runs folded into counters, so metrics stay monotonic after history is purged.

Pages, components and the CLI call ``SyncScheduler``'s methods (the façade) and never its stores.

The scheduler's parts, one concept each (the façade in ``scheduler.py`` assembles them and delegates):
- *timer* (``timer.py``): the in-process alarm clock, APScheduler's ``BackgroundScheduler`` (the only module
  that imports APScheduler); it is aimed at a job's due slot and fires; it decides nothing.
- *dispatch* (``dispatch.py``): claim due slots and run them here, highest priority first, after the
  dependencies' verdict, within ``MAX_CONCURRENT_RUNS`` places; never in the web role.
- *hibernation* (``hibernation.py``): the timer paused while no session was seen; waking catches up.
- *housekeeping* (``housekeeping.py``): each poll's heartbeat and reaping, tallies and alerts every 30 s.
- *handle* (``handle.py``): ``RunHandle``, what ``run_now()`` returns: it follows the run serving a request.
- *queries* (``queries.py``): the façade's read-only methods (status, history, runs, heartbeats, metrics).
- *singleton* (``singleton.py``): the process scheduler (``get_scheduler``) and the seed's module-level
  functions, re-exported by ``scheduler.py``.
"""
