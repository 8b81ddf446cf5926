#!/bin/bash
# Mutations of the configuration's guarantees (issue 13, item 7): each key declared once, every secret hidden
# everywhere by app/redaction.py. Each must make the named tests fail ("killed"). Run from the repository root:
# bash bench/config_mutations.sh. Each mutation edits one file, runs the tests, puts it back.
set -u
source "$(dirname "$0")/_mutate.sh"
T=tests/test_redaction.py
# the value parsers (app/setting_values.py) sit below the loader: they import neither it nor the core
mutate setting-values-import-the-core app/setting_values.py '    text = str(raw).strip()
    hours, _, minutes' '    from app.core.scheduler import SyncScheduler  # noqa: F401
    text = str(raw).strip()
    hours, _, minutes' tests/test_datasets.py -k "layer and setting_values"
# where settings come from (app/config_sources.py) sits below the loader too: reading never parses a value
mutate config-sources-import-the-loader app/config_sources.py '    if not path.exists():
        return {}, "", frozenset()' '    from app.config import SETTINGS  # noqa: F401
    if not path.exists():
        return {}, "", frozenset()' tests/test_datasets.py -k "layer and config_sources"
mutate undeclared-field-silently-skipped app/config.py '            raise TypeError(f"{cls.__name__}.{f.name} is not declared with setting(default, parser, ...)")' '            continue' $T -k declared_without
mutate smtp-password-not-declared-secret app/config.py 'smtp_password: str = setting("", plain_text, secret=Secrecy.VALUE)' \
  'smtp_password: str = setting("", plain_text)' $T -k named_like
mutate secret-value-shown app/redaction.py '        return redact_http_url(str(value))
    return MASK' '        return redact_http_url(str(value))
    return str(value)' $T -k "masked_in_rows or settings_page"
mutate http-query-values-not-secret app/redaction.py '        found += [value for _, value in parse_qsl(parts.query)]' '' $T -k masked_in_rows
mutate dataset-secrets-not-scrubbed app/config.py '        values += dataset.secret_values()' '        pass' $T -k failed_run
mutate dataset-url-shown-whole app/dataset_config.py '            return shown(self.url, Secrecy.DATABASE_URL)' '            return self.url' $T -k "cli_config or settings_page"
mutate runner-does-not-scrub app/core/runner.py '        return scrub(message, self.secrets)[:4000]' '        return message[:4000]' $T -k failed_run
mutate scrub-shortest-first app/redaction.py 'key=len, reverse=True):' 'key=len):' $T -k secrets_in_matches
mutate rejected-secret-shown app/config.py '    if secrecy is Secrecy.VALUE and raw not in ("", None):
        return shown(raw, secrecy)' '' $T -k masked_in_rows
mutate dataset-token-not-declared-secret app/dataset_config.py 'token: str = setting("", _text, secret=Secrecy.VALUE)' \
  'token: str = setting("", _text)' $T -k named_like
# fixes, item 6: a catalogue problem under a headline in the UI's language, its detail as the core wrote it
mutate catalogue-problem-without-headline app/ui/components/jobs.py "st.warning(f\"{t(lang, 'catalogue.problems', count=len(problems))}\\n\\n{details}\"" \
  'st.warning(details' tests/test_ui_jobs.py -k portuguese
# qa2 review (2026-12): the Settings datasets table one row per key, Syncing… said once, no lone dash, CLI words
mutate settings-datasets-side-by-side pages/2_Settings.py 'dataset_rows = settings_rows(lang, settings.datasets)' \
  'dataset_rows = [{"dataset": d.name, "job": d.job, **d.shown()} for d in settings.datasets]' \
  tests/test_ui_review.py -k datasets_table
mutate sidebar-syncing-twice app/ui/components/scheduler_status.py 'elif status.state != "running" or len(pairs) <= 1:' \
  'if True:' tests/test_ui_review.py -k syncing_once
mutate lone-dash-under-last-run app/ui/components/scheduler_status.py '    if status.last_result:  # beside' \
  '    if True:  # beside' tests/test_ui_review.py -k lone_dash
mutate cli-status-dashes app/cli/reports.py "'never (no data yet)' if age is None" "'-' if age is None" tests/test_cli.py -k reads_as_words
mutate cli-next-run-a-promise app/cli/reports.py 'if next_run and state in {"stopped", "silent"}:' 'if False:' \
  tests/test_cli.py -k reads_as_words
mutate worker-log-without-offset app/__main__.py ', datefmt="%Y-%m-%dT%H:%M:%S%z"' '' tests/test_cli.py -k utc_offset
mutate cli-health-never-as-stale app/cli/reports.py 'problems.append(f"{name} has no data yet (it never synced)")' \
  'problems.append(f"data of {name} is stale (last success never)")' tests/test_cli.py -k reads_as_words
mutate spinner-box-opens-empty app/ui/components/scheduler_status.py '    if detail:  # it opens: never onto nothing' \
  '    if False:  # it opens: never onto nothing' tests/test_ui_review.py -k syncing_once
mutate settings-datasets-inner-scroll pages/2_Settings.py '    height=ROW_PX * (len(dataset_rows) + 1) + 3,
' '' tests/test_ui_review.py -k without_inner_scrolling
mutate cli-history-reason-as-trigger app/cli/reports.py '"STATUS", "REASON", "STARTED"' '"STATUS", "TRIGGER", "STARTED"' \
  tests/test_cli.py -k iso_8601
mutate pace-holds-another-databases-version app/ui/pace.py 'held is not None and held.version < committed:' \
  'held is not None and held.version != committed:' tests/test_ui_review.py -k another_database
mutate dataset-url-own-normalisation app/dataset_config.py '    text = normalize_url(str(raw).strip())  # the bundled drivers, as for SOURCE_URL' '    text = str(raw).strip().replace("postgres://", "postgresql+psycopg://", 1)' tests/test_datasets.py -k bundled_drivers
