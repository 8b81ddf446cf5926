"""UI strings in English and Brazilian Portuguese (UI_LANGUAGE), and human formats for times and ages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "nav.dashboard": "Dashboard",
        "nav.data": "Data",
        "ds.title": "Data",
        "ds.none": "{name}: no data synced yet",
        "ds.asof": "{name}: data as of {at} ({age} ago)",
        "ds.asof_short": "as of {at}",
        "result.success": "success",
        "result.failed": "failed",
        "result.timeout": "timed out",
        "result.abandoned": "abandoned",
        "result.running": "running",
        "result.skipped": "skipped",
        "ds.syncing": "{name} · syncing… {rows} rows",
        "ds.syncing_start": "{name} · syncing…",
        "ds.failed": "{name} · last sync failed · {data}",
        "ds.paused": "{name} · paused · {data}",
        "ds.more": "and {count} more datasets ({fine} fresh); see the Data page",
        "ds.sync_page": "Sync this page's data",
        "ds.cooldown": "{name} was synced moments ago; Sync now is available again in {wait}.",
        "ds.requested": "Sync requested for {count} dataset(s).",
        "ds.waiting": "{name}: waiting for a scheduler to start it…",
        "ds.intro": "{count} dataset(s) kept fresh. Times are in {zone}.",
        "ds.left_out": "This dataset has no job: its configuration could not be used (see the Settings page).",
        "ds.rows": "Rows",
        "ds.result": "last result: {result}",
        "ds.limit": "Freshness limit",
        "ds.source": "From {where} into table `{table}` by job `{job}`.",
        "ds.not_yet": "The table is created by the first sync.",
        "ds.columns": "{count} columns and their types",
        "ds.show_rows": "Show rows",
        "ds.filter": "Rows containing (any text column)",
        "ds.shown": "{count} rows shown (at most {limit}, in key order)",
        "nav.scheduler": "Scheduler",
        "nav.settings": "Settings",
        "data.age": "data {age} old",
        "data.none": "no data yet",
        "badge.on": "Auto-sync on · {data}",
        "badge.syncing": "Syncing… {rows} rows",
        "badge.paused": "Auto-sync paused · {data}",
        "badge.asleep": "Asleep · wakes on the next visit",
        "badge.stopped": "Scheduler off · {data}",
        "badge.silent": "Scheduler silent since {since}",
        "badge.error": "Status unavailable · details on the page",
        "badge.failed": "Last sync failed · {data}",
        "asof": "Data as of {at} ({age} ago)",
        "asof.none": "No data synced yet",
        "scheduler.title": "Scheduler",
        "panel.title": "Status",
        "state.running": "Running",
        "state.paused": "Paused",
        "state.hibernating": "Asleep (no visitors)",
        "state.stopped": "Off in this process",
        "state.silent": "Silent",
        "last_run": "Last run",
        "next_run": "Next run",
        "interval": "Interval",
        "success_24h": "Success (24 h)",
        "sync_now": "Sync now",
        "start": "Start",
        "stop": "Stop",
        "restart": "Restart",
        "reset": "Reset stuck run",
        "admin.locked": "Start, Stop, Restart and Reset need the admin password.",
        "admin.password": "Admin password",
        "admin.open": "Controls are open to every viewer. Set ADMIN_PASSWORD (or ADMIN_USERS) to guard them.",
        "admin.users": "Only {users} may change the scheduler.",
        "admin.wrong": "Wrong admin password.",
        "cooldown": "Data was synced {age} ago; Sync now is available again in {wait}.",
        "joined": "A sync is already running or requested: following it.",
        "requested": "Sync requested.",
        "progress": "Syncing… {rows} rows",
        "done": "Sync finished: {rows} rows.",
        "failed": "Sync failed: {error}",
        "fallback": "The scheduler is not running here: this page refreshes itself every {period}.",
        "db_error": "The database is not usable: {error}",
        "config_errors": "Some settings were ignored; see the Settings page.",
        "dash.title": "Orders dashboard",
        "dash.empty": "No orders synced yet. The first sync starts by itself; press Sync now on the Scheduler page "
        "to hurry it.",
        "dash.orders": "Orders",
        "dash.revenue": "Revenue (R$)",
        "dash.average": "Average order (R$)",
        "dash.orders_24h": "Orders, last 24 h",
        "dash.in_24h": "+{value} in 24 h",
        "dash.chart": "Daily revenue by region",
        "dash.day": "Day",
        "dash.region": "Region",
        "dash.status": "Status",
        "dash.latest": "Latest {count} updated orders",
        "jobs": "Jobs",
        "jobs.priority": "When several jobs are due at once, the higher priority starts first; a job with "
        "'after' runs only once those jobs succeeded in its window, and is skipped (with the reason) if they failed.",
        "jobs.locked": "Changing triggers, pausing and resetting jobs needs the admin password.",
        "jobs.change": "Change a job",
        "jobs.report_off": "The e-mailed report (job email_report) joins this list once SMTP_HOST and "
        "REPORT_RECIPIENTS are set.",
        "queue": "Today's queue",
        "queue.none": "Nothing is planned for today.",
        "history": "Run history",
        "history.none": "No runs yet.",
        "logs": "Recent log lines",
        "settings.title": "Settings",
        "settings.issues": "{count} setting(s) could not be used; the defaults apply instead:",
        "settings.ok": "Every setting is valid.",
        "settings.where": "Set values in `.streamlit/secrets.toml` (or the Community Cloud secrets box) or as "
        "environment variables, which win. Secrets are masked here. See `.streamlit/secrets.toml.example` for "
        "every key.",
        "metrics.title": "Metrics and alerts",
        "metrics.jobs_active": "Active jobs",
        "metrics.queue": "Due now",
        "metrics.alerts": "Open alerts",
        "metrics.failures": "Failed runs",
        "metrics.runs": "Runs by job and status",
        "metrics.by_reason": "Failures by reason",
        "metrics.no_runs": "No finished runs yet.",
        "metrics.no_failures": "No failed runs.",
        "metrics.open_alerts": "Open alerts",
        "metrics.no_alerts": "No open alerts.",
        "metrics.unavailable": "Metrics unavailable: {error}",
    },
    "pt-BR": {
        "nav.dashboard": "Painel",
        "nav.data": "Dados",
        "ds.title": "Dados",
        "ds.none": "{name}: ainda sem dados sincronizados",
        "ds.asof": "{name}: dados de {at} ({age} atrás)",
        "ds.asof_short": "dados de {at}",
        "result.success": "sucesso",
        "result.failed": "falhou",
        "result.timeout": "tempo esgotado",
        "result.abandoned": "abandonada",
        "result.running": "em andamento",
        "result.skipped": "pulada",
        "ds.syncing": "{name} · sincronizando… {rows} linhas",
        "ds.syncing_start": "{name} · sincronizando…",
        "ds.failed": "{name} · última sincronização falhou · {data}",
        "ds.paused": "{name} · pausado · {data}",
        "ds.more": "e mais {count} conjuntos de dados ({fine} em dia); veja a página Dados",
        "ds.sync_page": "Sincronizar os dados desta página",
        "ds.cooldown": "{name} acabou de ser sincronizado; Sincronizar agora volta em {wait}.",
        "ds.requested": "Sincronização pedida para {count} conjunto(s) de dados.",
        "ds.waiting": "{name}: aguardando um agendador iniciá-la…",
        "ds.intro": "{count} conjunto(s) de dados mantidos em dia. Horários em {zone}.",
        "ds.left_out": "Este conjunto de dados não tem job: sua configuração não pôde ser usada (veja Configurações).",
        "ds.rows": "Linhas",
        "ds.result": "último resultado: {result}",
        "ds.limit": "Limite de atualização",
        "ds.source": "De {where} para a tabela `{table}` pelo job `{job}`.",
        "ds.not_yet": "A tabela é criada pela primeira sincronização.",
        "ds.columns": "{count} colunas e seus tipos",
        "ds.show_rows": "Mostrar linhas",
        "ds.filter": "Linhas que contêm (qualquer coluna de texto)",
        "ds.shown": "{count} linhas exibidas (no máximo {limit}, na ordem da chave)",
        "nav.scheduler": "Agendador",
        "nav.settings": "Configurações",
        "data.age": "dados de {age} atrás",
        "data.none": "ainda sem dados",
        "badge.on": "Auto-sync ativo · {data}",
        "badge.syncing": "Sincronizando… {rows} linhas",
        "badge.paused": "Auto-sync pausado · {data}",
        "badge.asleep": "Hibernando · acorda na próxima visita",
        "badge.stopped": "Agendador desligado · {data}",
        "badge.silent": "Agendador sem sinal desde {since}",
        "badge.error": "Situação indisponível · detalhes na página",
        "badge.failed": "Última sincronização falhou · {data}",
        "asof": "Dados de {at} ({age} atrás)",
        "asof.none": "Ainda não há dados sincronizados",
        "scheduler.title": "Agendador",
        "panel.title": "Situação",
        "state.running": "Ativo",
        "state.paused": "Pausado",
        "state.hibernating": "Hibernando (sem visitantes)",
        "state.stopped": "Desligado neste processo",
        "state.silent": "Sem sinal",
        "last_run": "Última execução",
        "next_run": "Próxima execução",
        "interval": "Intervalo",
        "success_24h": "Sucesso (24 h)",
        "sync_now": "Sincronizar agora",
        "start": "Iniciar",
        "stop": "Parar",
        "restart": "Reiniciar",
        "reset": "Destravar execução",
        "admin.locked": "Iniciar, Parar, Reiniciar e Destravar exigem a senha de administrador.",
        "admin.password": "Senha de administrador",
        "admin.open": "Os controles estão abertos a todos. Defina ADMIN_PASSWORD (ou ADMIN_USERS) para protegê-los.",
        "admin.users": "Somente {users} podem alterar o agendador.",
        "admin.wrong": "Senha de administrador incorreta.",
        "cooldown": "Os dados foram sincronizados há {age}; Sincronizar agora volta em {wait}.",
        "joined": "Uma sincronização já está em andamento ou pedida: acompanhando-a.",
        "requested": "Sincronização pedida.",
        "progress": "Sincronizando… {rows} linhas",
        "done": "Sincronização concluída: {rows} linhas.",
        "failed": "Sincronização falhou: {error}",
        "fallback": "O agendador não está ativo aqui: esta página se atualiza a cada {period}.",
        "db_error": "O banco de dados não pode ser usado: {error}",
        "config_errors": "Algumas configurações foram ignoradas; veja a página Settings.",
        "dash.title": "Painel de pedidos",
        "dash.empty": "Ainda não há pedidos sincronizados. A primeira sincronização começa sozinha; use Sincronizar "
        "agora na página Scheduler para adiantá-la.",
        "dash.orders": "Pedidos",
        "dash.revenue": "Receita (R$)",
        "dash.average": "Ticket médio (R$)",
        "dash.orders_24h": "Pedidos, últimas 24 h",
        "dash.in_24h": "+{value} em 24 h",
        "dash.chart": "Receita diária por região",
        "dash.day": "Dia",
        "dash.region": "Região",
        "dash.status": "Situação",
        "dash.latest": "Últimos {count} pedidos atualizados",
        "jobs": "Jobs",
        "jobs.priority": "Quando vários jobs vencem juntos, o de maior prioridade começa primeiro; um job com "
        "'after' só roda depois que esses jobs tiveram sucesso na sua janela, e é pulado (com o motivo) se falharam.",
        "jobs.locked": "Mudar gatilhos, pausar e destravar jobs exige a senha de administrador.",
        "jobs.change": "Alterar um job",
        "jobs.report_off": "O relatório por e-mail (job email_report) entra nesta lista quando SMTP_HOST e "
        "REPORT_RECIPIENTS estiverem definidos.",
        "queue": "Fila de hoje",
        "queue.none": "Nada planejado para hoje.",
        "history": "Histórico de execuções",
        "history.none": "Nenhuma execução ainda.",
        "logs": "Linhas de log recentes",
        "settings.title": "Configurações",
        "settings.issues": "{count} configuração(ões) não puderam ser usadas; valem os padrões:",
        "settings.ok": "Todas as configurações são válidas.",
        "settings.where": "Defina valores em `.streamlit/secrets.toml` (ou na caixa de secrets do Community Cloud) "
        "ou como variáveis de ambiente, que têm prioridade. Segredos aparecem mascarados. Veja "
        "`.streamlit/secrets.toml.example` para todas as chaves.",
        "metrics.title": "Métricas e alertas",
        "metrics.jobs_active": "Jobs ativos",
        "metrics.queue": "Pendentes agora",
        "metrics.alerts": "Alertas abertos",
        "metrics.failures": "Execuções com falha",
        "metrics.runs": "Execuções por job e status",
        "metrics.by_reason": "Falhas por motivo",
        "metrics.no_runs": "Nenhuma execução concluída ainda.",
        "metrics.no_failures": "Nenhuma execução com falha.",
        "metrics.open_alerts": "Alertas abertos",
        "metrics.no_alerts": "Nenhum alerta aberto.",
        "metrics.unavailable": "Métricas indisponíveis: {error}",
    },
}


def t(language: str, key: str, **values: object) -> str:
    table = STRINGS.get(language, STRINGS["en"])
    return table.get(key, STRINGS["en"][key]).format(**values)


def human_age(seconds: float | None) -> str:
    """'45 s', '3 min', '2 h 5 min', '3 d' — the age of data at a glance."""
    if seconds is None:
        return "—"
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 86400:
        hours, minutes = divmod(int(seconds // 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{seconds / 86400:.0f} d"


def local_time(iso: str | None, timezone: str, with_date: bool = False) -> str:
    if not iso:
        return "—"
    value = datetime.fromisoformat(iso).astimezone(ZoneInfo(timezone))
    return value.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def number(value: float | int | None, language: str, decimals: int = 0) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    if language == "pt-BR":  # 1.234,56
        return text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text
