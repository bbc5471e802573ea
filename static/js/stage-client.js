// One small stage interface with two drivers:
//   "local": the embedded media plane, spoken to with plain WHIP / WHEP and the
//            stage's event socket; no SDK needed.
//   "ivs":   Amazon IVS, through the IVS Web Broadcast SDK's Stage API.
//
//   const stage = createStageClient(driver, { fetchToken, onParticipants, onRemoved, onError })
//     fetchToken() resolves to { token, iceServers } (iceServers: TURN relays, may be empty)
//   await stage.join()                       // connect; participants start arriving
//   await stage.publish(mediaStream)         // hosts only (token with PUBLISH)
//   await stage.replaceTrack(track)          // screen share, camera or microphone switch
//   await stage.subscribe(participantId, videoElement)
//   stage.setLayer(participantId, "low" | "medium" | "high")
//   await stage.unpublish(); await stage.leave()

import { postWithCsrf } from "./csrf.js";
import { keepOpen } from "./socket.js";

const SIMULCAST = [
  { rid: "h", maxBitrate: 1_200_000 },
  { rid: "m", maxBitrate: 400_000, scaleResolutionDownBy: 2 },
  { rid: "l", maxBitrate: 120_000, scaleResolutionDownBy: 4 },
];

function claimsOf(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(payload));
}

function gathered(pc, timeoutMs = 2000) {
  // Full gathering (candidates go in the SDP); loopback and LAN finish in milliseconds.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") finish();
    };
    const finish = () => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(finish, timeoutMs);
  });
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function send(method, url, token, body, contentType) {
  const headers = { Authorization: `Bearer ${token}` };
  if (contentType) headers["Content-Type"] = contentType;
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  if (!response.ok) throw new HttpError(response.status, text.trim() || response.statusText);
  return { text, location: response.headers.get("Location") };
}

function localDriver({ fetchToken, onParticipants, onRemoved, onError }) {
  let token, claims, events; // events: the stage's event socket (keepOpen)
  let iceServers = []; // TURN relays with credentials that come with each token
  const ownIds = new Set(); // every participant id this page has been (tokens are re-issued)
  let publisher = null; // { pc, url }
  const subscriptions = new Map(); // participantId -> { pc, url, layer }
  const people = new Map(); // participantId -> participant
  let closed = false;
  const origin = (url) => new URL(url, location.href).href;

  function emit() {
    const others = [...people.values()].filter((p) => !ownIds.has(p.participantId));
    onParticipants(others);
  }

  async function renewToken() {
    ({ token, iceServers = [] } = await fetchToken());
    claims = claimsOf(token);
    ownIds.add(claims.jti);
  }

  function onEvent(event) {
    if (event.type === "stage.snapshot") {
      people.clear();
      for (const p of event.participants) people.set(p.participantId, p);
    } else if (event.type === "participant.event") {
      const p = event.participant;
      if (p.state === "CONNECTED") people.set(p.participantId, p);
      else people.delete(p.participantId);
      if (p.participantId === claims.jti && event.event === "LEFT" && event.detail.startsWith("disconnected by host")) {
        onRemoved(event.detail);
      }
    } else if (event.type === "error") {
      onError(event.message);
    }
    emit();
  }

  function openEvents() {
    const url = async (reconnecting) => {
      // Reconnect with a fresh token: the old one may have expired.
      if (reconnecting) await renewToken().catch((error) => onError(String(error)));
      return `${claims.events_url}?token=${encodeURIComponent(token)}`;
    };
    events = keepOpen(url, {
      onEvent,
      finalCodes: [4403], // this token was revoked (participant removed) or expired
      shouldStop: () => closed,
      // The plane accepts a refused token's socket and only then closes it, so an open
      // socket proves nothing: the delay keeps growing. (Unjittered, as it always was.)
      resetOnOpen: false,
      backoff: { jitter: false },
    });
  }

  return {
    isOwn(participantId) {
      return ownIds.has(participantId);
    },
    get canPublish() {
      return Boolean(claims?.capabilities?.allow_publish);
    },
    async join() {
      await renewToken();
      openEvents();
    },
    async publish(stream, { simulcast = true } = {}) {
      const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers });
      for (const track of stream.getAudioTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      for (const track of stream.getVideoTracks()) {
        pc.addTransceiver(track, { direction: "sendonly", streams: [stream], sendEncodings: simulcast ? SIMULCAST : undefined });
      }
      let answer;
      try {
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc);
        answer = await send("POST", claims.whip_url, token, pc.localDescription.sdp, "application/sdp");
      } catch (error) {
        pc.close(); // a refused offer (the media server down: 503) leaves no connection behind
        throw error;
      }
      const { text, location: where } = answer;
      await pc.setRemoteDescription({ type: "answer", sdp: text });
      publisher = { pc, url: origin(where) };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "failed") onError("Your connection to the stage failed. Go on stage again.");
      };
    },
    async replaceTrack(track) {
      const sender = publisher?.pc.getSenders().find((s) => s.track?.kind === track.kind);
      if (sender) await sender.replaceTrack(track);
    },
    async unpublish() {
      if (!publisher) return;
      const { pc, url } = publisher;
      publisher = null;
      pc.close();
      await send("DELETE", url, token).catch(() => {});
    },
    async subscribe(participantId, video, { layer = "high" } = {}) {
      const { text, location: where } = await send(
        "POST", `${claims.whep_url}?participantId=${encodeURIComponent(participantId)}&layer=${layer}`, token,
      );
      const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers });
      const stream = new MediaStream();
      pc.ontrack = (event) => {
        stream.addTrack(event.track);
        video.srcObject = stream;
        video.play().catch(() => {});
      };
      await pc.setRemoteDescription({ type: "offer", sdp: text });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      const url = origin(where);
      await send("PATCH", url, token, pc.localDescription.sdp, "application/sdp");
      subscriptions.set(participantId, { pc, url, layer });
    },
    async setLayer(participantId, layer) {
      const sub = subscriptions.get(participantId);
      if (!sub || sub.layer === layer) return;
      sub.layer = layer;
      await send("PATCH", sub.url, token, JSON.stringify({ layer }), "application/json").catch(() => {});
    },
    async unsubscribe(participantId) {
      const sub = subscriptions.get(participantId);
      if (!sub) return;
      subscriptions.delete(participantId);
      sub.pc.close();
      await send("DELETE", sub.url, token).catch(() => {});
    },
    async leave() {
      closed = true;
      await this.unpublish();
      await Promise.all([...subscriptions.keys()].map((id) => this.unsubscribe(id)));
      events?.close();
    },
  };
}

function ivsDriver({ fetchToken, onParticipants, onRemoved, onError }) {
  const { Stage, StageEvents, SubscribeType, LocalStageStream, StageConnectionState } = window.IVSBroadcastClient;
  let stage, token, claims;
  let localStreams = [];
  const people = new Map();
  const videos = new Map(); // participantId -> video element waiting for streams
  const streams = new Map(); // participantId -> MediaStream

  const strategy = {
    stageStreamsToPublish: () => localStreams,
    shouldPublishParticipant: () => localStreams.length > 0,
    shouldSubscribeToParticipant: () => SubscribeType.AUDIO_VIDEO,
  };

  function attach(participantId) {
    const video = videos.get(participantId);
    const stream = streams.get(participantId);
    if (video && stream) {
      video.srcObject = stream;
      video.play().catch(() => {});
    }
  }

  function emit() {
    onParticipants([...people.values()]);
  }

  return {
    isOwn(participantId) {
      return participantId === claims?.jti;
    },
    get canPublish() {
      return Boolean(claims?.capabilities?.allow_publish);
    },
    async join() {
      ({ token } = await fetchToken()); // the IVS SDK brings its own relays
      claims = claimsOf(token);
      stage = new Stage(token, strategy);
      stage.on(StageEvents.STAGE_PARTICIPANT_JOINED, (info) => {
        if (info.isLocal) return;
        people.set(info.id, { participantId: info.id, attributes: info.attributes, published: false, state: "CONNECTED" });
        emit();
      });
      stage.on(StageEvents.STAGE_PARTICIPANT_LEFT, (info) => {
        people.delete(info.id);
        streams.delete(info.id);
        emit();
      });
      stage.on(StageEvents.STAGE_PARTICIPANT_STREAMS_ADDED, (info, added) => {
        if (info.isLocal) return;
        const stream = streams.get(info.id) || new MediaStream();
        for (const s of added) stream.addTrack(s.mediaStreamTrack);
        streams.set(info.id, stream);
        people.set(info.id, { participantId: info.id, attributes: info.attributes, published: true, state: "CONNECTED" });
        attach(info.id);
        emit();
      });
      stage.on(StageEvents.STAGE_CONNECTION_STATE_CHANGED, (state) => {
        if (state === StageConnectionState.DISCONNECTED) onRemoved("disconnected");
      });
      stage.on(StageEvents.ERROR, (error) => onError(error.message || String(error)));
      await stage.join();
    },
    async publish(stream) {
      localStreams = stream.getTracks().map((track) => new LocalStageStream(track));
      stage.refreshStrategy();
    },
    async replaceTrack(track) {
      localStreams = localStreams
        .filter((s) => s.mediaStreamTrack.kind !== track.kind)
        .concat(new LocalStageStream(track));
      stage.refreshStrategy();
    },
    async unpublish() {
      localStreams = [];
      stage?.refreshStrategy();
    },
    async subscribe(participantId, video) {
      videos.set(participantId, video);
      attach(participantId); // the SDK subscribes through the strategy
    },
    async setLayer() {
      // The SDK adapts layers itself (preferredLayerForStream could pin one).
    },
    async unsubscribe(participantId) {
      videos.delete(participantId);
    },
    async leave() {
      stage?.leave();
    },
  };
}

export function createStageClient(driver, options) {
  return driver === "ivs" ? ivsDriver(options) : localDriver(options);
}

// The plane's media server (Janus) is down: trying again later will work.
export function isUnavailable(error) {
  return error?.status === 503;
}

export function tokenFetcher(url) {
  return async () => {
    const response = await postWithCsrf(url);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || "Could not get a stage token");
    return { token: body.token, iceServers: body.iceServers };
  };
}
