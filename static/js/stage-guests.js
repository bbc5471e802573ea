// Guest spots over the chat socket. Hosts see who watches, invite one, answer
// requests and remove guests; viewers ask to join and answer invites. The server
// checks every step; these only show and send.

function button(label, onClick, className = "button small") {
  const node = document.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = label;
  node.addEventListener("click", onClick);
  return node;
}

function person(name, ...actions) {
  const item = document.createElement("li");
  const label = document.createElement("span");
  label.className = "person";
  label.textContent = name;
  item.append(label, ...actions);
  return item;
}

export function hostGuestControls(send) {
  const audienceList = document.getElementById("audience");
  const requestList = document.getElementById("join-requests");
  const requests = new Map(); // invite id -> invite
  const invited = new Set(); // user ids with an open invite

  function renderRequests() {
    requestList.replaceChildren(
      ...[...requests.values()].map((invite) =>
        person(
          invite.user,
          button("Accept", () => send({ type: "answer", inviteId: invite.id, accept: true })),
          button("Decline", () => send({ type: "answer", inviteId: invite.id, accept: false }), "button secondary small"),
        ),
      ),
    );
    if (!requests.size) requestList.innerHTML = '<li class="muted small">No requests.</li>';
  }

  function renderAudience(viewers) {
    audienceList.replaceChildren(
      ...viewers.map((viewer) => {
        if (viewer.guest) {
          return person(`${viewer.user} (guest)`, button("Remove", () => send({ type: "end_guest", userId: viewer.userId }), "button danger small"));
        }
        const invite = button(invited.has(viewer.userId) ? "Invited…" : "Invite", () => {
          invited.add(viewer.userId);
          invite.textContent = "Invited…";
          invite.disabled = true;
          send({ type: "invite", userId: viewer.userId });
        });
        invite.disabled = invited.has(viewer.userId);
        invite.dataset.testid = `invite-${viewer.user}`;
        return person(viewer.user, invite);
      }),
    );
    if (!viewers.length) audienceList.innerHTML = '<li class="muted small">No logged-in viewers yet.</li>';
  }

  return (event) => {
    if (event.type === "chat.hello") send({ type: "audience" });
    else if (event.type === "stage.audience") renderAudience(event.viewers);
    else if (event.type === "stage.request") {
      requests.set(event.invite.id, event.invite);
      renderRequests();
    } else if (event.type === "stage.answered") {
      requests.delete(event.invite.id);
      invited.delete(event.invite.userId);
      renderRequests();
      send({ type: "audience" });
    }
  };
}

export function viewerGuestControls(send) {
  const ask = document.getElementById("ask-to-join");
  const status = document.getElementById("guest-status");
  const card = document.getElementById("invite");
  let current = null;
  let countdown = null;

  function showInvite(invite) {
    current = invite;
    card.querySelector(".invite-from").textContent = invite.from;
    card.hidden = false;
    clearInterval(countdown);
    const tick = () => {
      const left = Math.round((new Date(invite.expiresAt) - Date.now()) / 1000);
      if (left <= 0) return hideInvite("The invite expired.");
      card.querySelector(".invite-expiry").textContent = `(${left} s to answer)`;
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  function hideInvite(message = "") {
    clearInterval(countdown);
    card.hidden = true;
    current = null;
    status.textContent = message;
  }

  ask?.addEventListener("click", () => send({ type: "request" }));
  document.getElementById("invite-accept").addEventListener("click", () => {
    if (current) send({ type: "answer", inviteId: current.id, accept: true });
  });
  document.getElementById("invite-decline").addEventListener("click", () => {
    if (current) send({ type: "answer", inviteId: current.id, accept: false });
    hideInvite();
  });

  return (event) => {
    if (event.type === "stage.invite") showInvite(event.invite);
    else if (event.type === "stage.requested") {
      status.textContent = "Asked to join; waiting for a host.";
      if (ask) ask.disabled = true;
    } else if (event.type === "stage.answered" && event.status === "declined" && event.invite.kind === "request") {
      status.textContent = "The host declined your request this time.";
      if (ask) ask.disabled = false;
    } else if (event.type === "stage.guest") {
      hideInvite("Joining the stage…");
      location.assign(event.studioUrl);
    }
  };
}

export function guestStudioControls(send) {
  const end = document.getElementById("end-guest");
  end?.addEventListener("click", () => send({ type: "end_guest", userId: Number(end.dataset.userId) }));
  return (event) => {
    if (event.type === "stage.guest_ended") location.assign(event.viewerUrl);
  };
}
