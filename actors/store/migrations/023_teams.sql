-- Teams: a team owns services, schedules, escalation policies and router integrations (and
-- so the routing rules of those services and routers); its members each hold a role in it.
-- What existed before has no team (team_id NULL) and stays the global admins' to manage, so
-- nothing changes until an admin gives it to a team.

CREATE TABLE teams (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX teams_name ON teams (lower(name));

CREATE TABLE team_members (
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text NOT NULL CHECK (role IN ('viewer', 'responder', 'admin')),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- A team that still owns something cannot be deleted (RESTRICT): its objects are moved first.
ALTER TABLE services ADD COLUMN team_id uuid REFERENCES teams (id) ON DELETE RESTRICT;
ALTER TABLE schedules ADD COLUMN team_id uuid REFERENCES teams (id) ON DELETE RESTRICT;
ALTER TABLE escalation_policies ADD COLUMN team_id uuid REFERENCES teams (id) ON DELETE RESTRICT;
-- Router integrations only: a service's integrations belong to the service's team.
ALTER TABLE integrations ADD COLUMN team_id uuid REFERENCES teams (id) ON DELETE RESTRICT;
CREATE INDEX services_team ON services (team_id);
CREATE INDEX schedules_team ON schedules (team_id);
CREATE INDEX escalation_policies_team ON escalation_policies (team_id);

-- A personal token may be limited to one team and a role in it. Deleting the team deletes
-- such tokens: a limit never lapses into the owner's whole access.
ALTER TABLE api_tokens ADD COLUMN team_id uuid REFERENCES teams (id) ON DELETE CASCADE;
ALTER TABLE api_tokens ADD COLUMN team_role text CHECK (team_role IN ('viewer', 'responder', 'admin'));
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_team_limit CHECK ((team_id IS NULL) = (team_role IS NULL));
