"""A note is a command: a line on the incident's timeline by its author, nothing else changed."""

from __future__ import annotations

from dataclasses import replace

from tocsin.actors.domain.events import Action, Command, IncidentCommand
from tocsin.actors.domain.incident import Outcome
from tocsin.actors.domain.service_incidents import ServiceIncidents
from tests.unit.test_dedupe import SERVICE, Inputs, Shard


def note(inputs: Inputs, incident_id: int, text: str, actor: str = "Alice Doe") -> IncidentCommand:
    return replace(inputs.command(incident_id, Action.ACKNOWLEDGE, actor), action=Command.NOTE, text=text)


def test_a_note_goes_on_the_timeline_by_its_author_and_changes_nothing_else() -> None:
    shard, inputs = Shard(), Inputs()
    shard.apply(inputs.alert(Action.TRIGGER))
    before = replace(shard.open_incident())
    command = note(inputs, before.id or 0, "restarted the database; watching")

    plan = shard.apply(command)

    assert [a.outcome for a in plan.applied] == [Outcome.NOTED]
    [entry] = plan.log
    assert (entry.kind, entry.actor, entry.message) == ("note", "Alice Doe", "restarted the database; watching")
    assert (entry.at, entry.input_id) == (command.received_at, command.command_id)
    after = shard.open_incident()
    assert (after.status, after.updated_at, after.occurrences) == (before.status, before.updated_at, before.occurrences)
    assert not plan.pages and not plan.silenced


def test_a_note_on_an_incident_that_is_not_open_here_changes_nothing() -> None:
    shard, inputs = Shard(), Inputs()
    shard.apply(inputs.alert(Action.TRIGGER))
    incident_id = shard.open_incident().id or 0
    shard.apply(inputs.alert(Action.RESOLVE))

    plan = ServiceIncidents(SERVICE).plan([note(inputs, incident_id, "too late")])
    again = shard.apply(note(inputs, incident_id, "too late"))

    for p in (plan, again):
        assert [a.outcome for a in p.applied] == [Outcome.UNCHANGED] and p.log == []
