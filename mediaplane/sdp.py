"""The little SDP handling WHIP/WHEP needs: trickle ICE fragments (RFC 8840) to
Janus candidates, and the candidates Janus put in its SDP."""

from __future__ import annotations


def parse_trickle_fragment(fragment: str, media_ids: list[str]) -> tuple[list[dict], bool]:
    """Candidates of an `application/trickle-ice-sdpfrag` body, and whether it ends gathering.

    `media_ids` are the session's mids in m-line order (from the offer), so each
    candidate gets both sdpMid and sdpMLineIndex.
    """
    candidates: list[dict] = []
    completed = False
    mid = media_ids[0] if media_ids else "0"
    for raw in fragment.splitlines():
        line = raw.strip()
        if line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        elif line.startswith("a=candidate:"):
            index = media_ids.index(mid) if mid in media_ids else 0
            candidates.append({"sdpMid": mid, "sdpMLineIndex": index, "candidate": line[2:]})
        elif line == "a=end-of-candidates":
            completed = True
    return candidates, completed


def media_ids(sdp: str) -> list[str]:
    """The mids of an SDP, in m-line order."""
    mids: list[str] = []
    in_media = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_media = True
            mids.append(str(len(mids)))
        elif in_media and line.startswith("a=mid:"):
            mids[-1] = line[len("a=mid:") :].strip()
    return mids
