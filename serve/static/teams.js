// Teams and their members, each with a role in the team. Global admins create and delete
// teams; a team's admins (and global admins) add members, change their roles, remove them.

import { get, post, put, remove } from "/static/api.js";
import {
  actionButton, badge, bindForm, el, fill, fillSelect, lazyCard, problemLine, run, startPage,
} from "/static/ui.js";

const TEAM_ROLES = {
  viewer: "Viewer: reads the team's things",
  responder: "Responder: also acts on the team's incidents",
  admin: "Team admin: also manages what the team owns",
};

let page = null;
let users = [];

run(async () => {
  page = await startPage();
  users = (await get("/api/v1/users")).users;
  if (page.can("admin")) {
    bindForm(document.getElementById("team-form"), async (values) => {
      const team = await post("/api/v1/teams", { name: values.name });
      await showTeams(team.id);
    });
  }
  await showTeams();
});

async function showTeams(openId = location.hash.replace(/^#team-/, "")) {
  const { teams } = await get("/api/v1/teams");
  const mine = page.user.teams ?? {};
  document.getElementById("teams").replaceChildren(...teams.map((team) => teamCard(team, mine[team.id],
    team.id === openId || teams.length === 1)));
  document.getElementById("no-teams").hidden = teams.length > 0;
}

function teamCard(team, myRole, open) {
  return lazyCard({ id: `team-${team.id}`, "data-team": team.id },
    [el("strong", {}, team.name), " ", myRole ? badge(`you: ${myRole}`, "role") : null,
      el("span", { class: "muted" }, ` · ${team.member_count} member${team.member_count === 1 ? "" : "s"}`)],
    open, (body) => fillTeamBody(body, team));
}

async function fillTeamBody(body, team) {
  const { members } = await get(`/api/v1/teams/${team.id}`);
  const manages = page.adminOf(team.id);
  fill(body,
    members.length ? el("ul", { class: "members" }, ...members.map((member) => memberItem(team, member, manages)))
      : el("p", { class: "muted" }, "No members yet."),
    manages ? memberForm(team, members) : null,
    page.can("admin") ? deleteTeamButton(team) : null);
}

function memberItem(team, member, manages) {
  const problem = problemLine();
  return el("li", { class: "member", "data-member": member.user_id },
    el("span", {}, member.name), " ", badge(member.role, "role"),
    el("span", { class: "muted" }, ` ${member.email} `),
    manages ? actionButton("Remove", async () => {
      await remove(`/api/v1/teams/${team.id}/members/${member.user_id}`);
      await showTeams(team.id);
    }, problem, { class: "small danger", "aria-label": `Remove ${member.name}` }) : null,
    problem);
}

function memberForm(team) {
  const userId = `member-user-${team.id}`;
  const roleId = `member-role-${team.id}`;
  const who = el("select", { id: userId, name: "user_id", required: true });
  fillSelect(who, users.map((user) => ({ value: user.id, label: user.name })));
  const role = el("select", { id: roleId, name: "role" },
    ...Object.entries(TEAM_ROLES).map(([value, label]) => el("option", { value, selected: value === "responder" },
      label)));
  const form = el("form", { class: "inline-form" },
    el("div", { class: "field" }, el("label", { for: userId }, "Person"), who),
    el("div", { class: "field" }, el("label", { for: roleId }, "Role in the team"), role),
    el("button", { type: "submit" }, "Add or change"), problemLine());
  bindForm(form, async (values) => {
    await put(`/api/v1/teams/${team.id}/members/${values.user_id}`, { role: values.role });
    await showTeams(team.id);
  });
  return form;
}

function deleteTeamButton(team) {
  const problem = problemLine();
  return el("div", { class: "danger-zone" }, actionButton(`Delete ${team.name}`, async () => {
    if (!confirm(`Delete the team ${team.name}?`)) return;
    await remove(`/api/v1/teams/${team.id}`);
    await showTeams();
  }, problem, { class: "danger" }), problem);
}
