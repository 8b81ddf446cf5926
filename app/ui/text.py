"""UI strings in English and Brazilian Portuguese (UI_LANGUAGE), and human formats for times and ages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "nav.dashboard": "Dashboard",
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
        "badge.error": "Database unusable · details on the page",
        "badge.config": "Settings unusable · details on the page",
        "badge.failed": "Last sync failed · {data}",
        "asof": "Data as of {at} ({age} ago)",
        "asof.none": "No data synced yet",
        "scheduler.title": "Scheduler",
        "panel.title": "Status",
        "state.running": "Running",
        "state.paused": "Paused",
        "paused.scheduler": "Scheduler paused (Stop): no job runs on its schedule until Start.",
        "paused.job": "This job is paused by an operator; Start does not resume it (use Resume on the job).",
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
        "admin.failclosed": "Controls are locked for everyone: {reason}.",
        "cooldown": "Data was synced {age} ago; Sync now is available again in {wait}.",
        "joined": "A sync is already running or requested: following it.",
        "requested": "Sync requested.",
        "progress": "Syncing… {rows} rows",
        "done": "Sync finished: {rows} rows.",
        "failed": "Sync failed: {error}",
        "fallback": "The scheduler is not running here: this page refreshes itself every {period}.",
        "db_error": "The database is not usable: {error}",
        "config_errors": "Some settings were ignored; see the Settings page.",
        "config_fatal": "Freshdash cannot run with these settings: {error}",
        "config_fix": "Fix the value in the environment or in `.streamlit/secrets.toml` and reload the page. "
        "Run `python -m app config` to see every value and where it came from.",
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
        "settings.fatal": "{count} setting(s) that decide where data lives cannot be used; nothing runs until fixed:",
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
        "badge.error": "Banco de dados inutilizável · detalhes na página",
        "badge.config": "Configuração inutilizável · detalhes na página",
        "badge.failed": "Última sincronização falhou · {data}",
        "asof": "Dados de {at} ({age} atrás)",
        "asof.none": "Ainda não há dados sincronizados",
        "scheduler.title": "Agendador",
        "panel.title": "Situação",
        "state.running": "Ativo",
        "state.paused": "Pausado",
        "paused.scheduler": "Agendador pausado (Parar): nenhum job roda no horário até Iniciar.",
        "paused.job": "Este job foi pausado por um operador; Iniciar não o retoma (use Retomar no job).",
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
        "admin.failclosed": "Os controles estão travados para todos: {reason}.",
        "cooldown": "Os dados foram sincronizados há {age}; Sincronizar agora volta em {wait}.",
        "joined": "Uma sincronização já está em andamento ou pedida: acompanhando-a.",
        "requested": "Sincronização pedida.",
        "progress": "Sincronizando… {rows} linhas",
        "done": "Sincronização concluída: {rows} linhas.",
        "failed": "Sincronização falhou: {error}",
        "fallback": "O agendador não está ativo aqui: esta página se atualiza a cada {period}.",
        "db_error": "O banco de dados não pode ser usado: {error}",
        "config_errors": "Algumas configurações foram ignoradas; veja a página Settings.",
        "config_fatal": "O Freshdash não pode rodar com estas configurações: {error}",
        "config_fix": "Corrija o valor no ambiente ou em `.streamlit/secrets.toml` e recarregue a página. "
        "Rode `python -m app config` para ver cada valor e de onde veio.",
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
        "settings.fatal": "{count} configuração(ões) que decidem onde ficam os dados não podem ser usadas; nada roda:",
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
