"""`/mlops drift | perf | schedule`."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.monitoring import schedules
from bot.monitoring.document import ReportKind
from bot.monitoring.runner import Admission, ReportJob
from bot.policy.permissions import Action
from handlers import blocks as render
from handlers.blocks import Reply
from handlers.router.invocation import Invocation, UsageError
from handlers.router.registry import subcommand


@subcommand("/mlops drift <model> [@alias]", "drift report now (posted when done)")
def drift(inv: Invocation) -> Reply:
    return _on_demand(inv, ReportKind.DRIFT)


@subcommand("/mlops perf <model> [@alias]", "performance report now (posted when done)")
def perf(inv: Invocation) -> Reply:
    return _on_demand(inv, ReportKind.PERF)


def _on_demand(inv: Invocation, kind: ReportKind) -> Reply:
    """Acknowledge now; the worker computes and the report is posted in this channel."""
    words = inv.words
    if not 1 <= len(words) <= 2 or (len(words) == 2 and not words[1].startswith("@")):
        raise UsageError(f"`{kind}` needs a model and optionally an @alias.", kind)
    model = words[0]
    alias = words[1][1:] if len(words) == 2 else None
    info = inv.rt.registry.get_model(model)
    monitor = inv.rt.policy.for_model(info.name).monitor
    shown = alias or (monitor.alias if monitor else "champion")
    if shown not in info.aliases:
        known = ", ".join(f"`@{a}`" for a in sorted(info.aliases)) or "none"
        raise UsageError(f"`{info.name}` has no alias `@{shown}` (aliases: {known}).", kind)
    if monitor is None:
        raise UsageError(
            f"`{info.name}` has no monitor: add [models.{info.name}.monitor] with `current` "
            "(and `reference`) to the policy file.",
            kind,
        )
    job = ReportJob(kind, info.name, alias, inv.channel, inv.user)
    runner = inv.services.reports
    ticket = runner.admit(job)
    if not ticket.accepted:
        icon = ":repeat:" if ticket.admission == Admission.DUPLICATE else ":no_entry:"
        busy = f"{icon} {ticket.message}"
        return Reply(busy, [render.section(busy)])
    inv.defer(lambda: runner.run(ticket))
    text = (
        f":hourglass_flowing_sand: Working on the {kind} report for `{info.name}` "
        f"`@{shown}`; it will be posted in this channel."
    )
    return Reply(text, [render.section(text)])


SCHEDULE = '/mlops schedule list | add <drift|perf> <model> "<cron>" [#channel] | remove <id>'


@subcommand(SCHEDULE, "scheduled drift and performance reports", action=Action.SCHEDULE_ADD)
def schedule(inv: Invocation) -> Reply:
    """`schedule list | add <drift|perf> <model> "<cron>" [#channel] | remove <id>`."""
    args = inv.parsed.args
    op = args[0].text.lower() if args else "list"
    if op == "list" and len(args) <= 1:
        return _list(inv)
    if op == "add" and 4 <= len(args) <= 5:
        kind, model, cron = args[1].text.lower(), args[2].text, args[3].text
        channel = inv.channel
        if len(args) == 5:
            if args[4].kind != "channel" or not args[4].id:
                raise UsageError("the last argument must be a #channel.", "schedule")
            channel = args[4].id
        try:
            sched = schedules.add(
                inv.rt, kind, model, cron, channel, inv.user, permissions=inv.services.permissions
            )
        except schedules.ScheduleError as exc:
            raise UsageError(str(exc), "schedule") from None
        text = (
            f"Scheduled `{sched.id}`: {sched.kind} report for `{render.esc(sched.model_name)}` "
            f"at `{render.esc(sched.cron)}` ({inv.rt.settings.mlops_bot_timezone}) "
            f"in <#{sched.channel}>."
        )
        return Reply(text, [render.section(text)])
    if op == "remove" and len(args) == 2:
        try:
            sched = schedules.remove(
                inv.rt, args[1].text, inv.user, permissions=inv.services.permissions
            )
        except schedules.ScheduleError as exc:
            raise UsageError(str(exc), "schedule") from None
        text = f"Removed schedule `{sched.id}` ({sched.kind} `{render.esc(sched.model_name)}`)."
        return Reply(text, [render.section(text)])
    raise UsageError("that is not a schedule command.", "schedule")


def _list(inv: Invocation) -> Reply:
    rows = schedules.all_schedules(inv.rt)
    if not rows:
        return Reply("No scheduled reports.", [render.section("No scheduled reports.")])
    tz, now = inv.rt.settings.mlops_bot_timezone, inv.rt.clock.now()

    def next_run(cron: str) -> str:
        nxt = schedules.next_fire(cron, tz, now)
        return nxt.strftime("%Y-%m-%d %H:%M %Z") if nxt else "never"

    lines = [
        f"• `{r.id}` {r.kind} `{render.esc(r.model_name)}` at `{r.cron}` ({tz}) in <#{r.channel}>"
        f", next {next_run(r.cron)}"
        f"{' — policy file' if r.source == 'file' else f' — by <@{r.created_by}>'}"
        for r in rows
    ]
    blocks: list[Block] = [render.header(f"Scheduled reports ({len(rows)})")]
    blocks += [render.section("\n".join(lines[i : i + 20])) for i in range(0, len(lines), 20)]
    return Reply("\n".join(lines), blocks[:50])
