"""HTTP entry points of the local plane: the IVS API (SigV4-signed, rest-json),
the ingest metrics endpoint, and nginx-rtmp's callbacks (loopback + shared secret)."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from contextlib import nullcontext

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from kombu.exceptions import OperationalError

from mediaplane.api import compositions as _compositions  # noqa: F401 - registers its operations
from mediaplane.api import sigv4
from mediaplane.api import tagging as _tagging  # noqa: F401 - registers its operations
from mediaplane.api.ivs import ivs
from mediaplane.api.ivs_realtime import ivs_realtime
from mediaplane.api.protocol import ApiError, Service, parse_input, to_json
from mediaplane.models import IngestSample
from mediaplane.services import ingest
from mediaplane.srt import admission

log = logging.getLogger(__name__)
SERVICES = {"ivs": ivs, "ivs-realtime": ivs_realtime}


def _sent_url(request: HttpRequest) -> str:
    """The URL as the client sent and signed it. Django's path is percent-decoded, but
    SigV4 signs the path as sent: /tags/{resourceArn} carries the ARN percent-encoded.
    The ASGI server keeps that path; under WSGI the decoded one is all there is."""
    scope = getattr(request, "scope", {})
    if "raw_path" not in scope:
        return request.build_absolute_uri(request.get_full_path())
    path, query = scope["raw_path"].decode("latin-1"), request.META.get("QUERY_STRING", "")
    return request.build_absolute_uri(f"{path}?{query}" if query else path)


def _verify_signature(request: HttpRequest, service: Service) -> None:
    sigv4.verify(
        method=request.method,
        url=_sent_url(request),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.body,
        access_keys=settings.LOCAL_PLANE_ACCESS_KEYS,
        service=service.model.signing_name,
        region=settings.AWS_REGION,
    )


def _writes(operation_name: str) -> bool:
    return not operation_name.startswith(("Get", "List", "BatchGet"))


@csrf_exempt
def api(request: HttpRequest, service_name: str, path: str) -> HttpResponse:
    """One IVS API request: route by the model, check the signature, validate, run.
    An operation that writes runs in one transaction, so a refused call changes nothing."""
    service = SERVICES[service_name]
    route = service.route(request.method, "/" + path)
    if route is None:
        return service.error_response("UnknownOperationException", f"No operation at {request.method} /{path}")
    operation, labels = route
    try:
        _verify_signature(request, service)
        params = parse_input(operation, request.body, labels, request.GET)
        handler = service.handlers.get(operation.name)
        if handler is None:
            raise ApiError("NotImplemented", f"{operation.name} is not implemented by the local media plane")
        with transaction.atomic() if _writes(operation.name) else nullcontext():
            result = handler(params)
    except ApiError as exc:
        return service.error_response(exc.code, exc.message, exc.status)
    except RequestDataTooBig:
        return service.error_response("ValidationException", "Request body is too large")
    except DatabaseError:
        log.exception("%s failed", operation.name)
        return service.error_response("ServiceUnavailable", "The service is busy; try again")
    return HttpResponse(to_json(result), content_type="application/json")


@require_GET
def ingest_metrics(request: HttpRequest) -> HttpResponse:
    """Health samples of a channel's sessions between two times (the local stand-in
    for IVS's CloudWatch metrics)."""
    try:
        _verify_signature(request, ivs)
        start = dt.datetime.fromisoformat(request.GET["startTime"])
        end = dt.datetime.fromisoformat(request.GET["endTime"])
        channel_arn = request.GET["channelArn"]
    except ApiError as exc:
        return ivs.error_response(exc.code, exc.message, exc.status)
    except (KeyError, ValueError):
        return ivs.error_response("ValidationException", "channelArn, startTime and endTime (ISO 8601) are required")
    samples = IngestSample.objects.filter(session__channel__arn=channel_arn, time__gt=start, time__lte=end)
    return HttpResponse(
        to_json(
            {
                "samples": [
                    {
                        "time": s.time.isoformat(),
                        "videoBitrate": s.video_bitrate,
                        "audioBitrate": s.audio_bitrate,
                        "framerate": s.framerate,
                    }
                    for s in samples[:2000]
                ]
            }
        ),
        content_type="application/json",
    )


# --- nginx-rtmp callbacks ------------------------------------------------------------


def _from_nginx(request: HttpRequest) -> bool:
    secret = request.GET.get("secret", "")
    loopback = request.META.get("REMOTE_ADDR", "") in {"127.0.0.1", "::1"}
    return loopback and hmac.compare_digest(secret, settings.MEDIA_CALLBACK_SECRET)


@csrf_exempt
@require_POST
def on_publish(request: HttpRequest) -> HttpResponse:
    if not _from_nginx(request):
        return HttpResponseForbidden("not nginx")
    try:
        session = ingest.start_publish(
            stream_key=request.POST.get("name", ""),
            client_id=request.POST.get("clientid", ""),
            app=request.POST.get("app", ""),
            address=request.POST.get("addr") or None,
            # nginx's configuration puts it on the callback URL of the loopback server;
            # the publisher's own arguments arrive in the body, so they cannot claim it.
            secure=request.GET.get("secure") == "1",
        )
    except ingest.PublishRefused as exc:
        log.info("publish refused from %s: %s", request.POST.get("addr"), exc)
        return HttpResponseForbidden(str(exc))
    return _RtmpRedirect(ingest.relay_url(session))


class _RtmpRedirect(HttpResponseRedirect):
    allowed_schemes = ["rtmp"]


@csrf_exempt
@require_POST
def on_relay_publish(request: HttpRequest) -> HttpResponse:
    if not _from_nginx(request):
        return HttpResponseForbidden("not nginx")
    relay = {"name": request.POST.get("name", ""), "stream_id": request.POST.get("session", "")}
    if not ingest.relay_is_genuine(**relay, signature=request.POST.get("relay", "")):
        log.warning("refused a publish to the HLS application without a valid relay signature")
        return HttpResponseForbidden("relay only")
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def on_record_done(request: HttpRequest) -> HttpResponse:
    """nginx finished writing a broadcast's recording: keep or drop it, off the request."""
    if not _from_nginx(request):
        return HttpResponseForbidden("not nginx")
    from mediaplane.tasks import finish_recording

    try:
        finish_recording.delay(path=request.POST.get("path", ""))
    except OperationalError as exc:  # the broker (Redis) is down
        log.warning("recording left for the raw-recording sweep: %s", exc)
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def on_publish_done(request: HttpRequest) -> HttpResponse:
    if not _from_nginx(request):
        return HttpResponseForbidden("not nginx")
    ingest.end_publish(
        stream_key=request.POST.get("name", ""),
        client_id=request.POST.get("clientid", ""),
        app=request.POST.get("app", ""),
    )
    return HttpResponse("ok")


# --- SRT gateway callback --------------------------------------------------------------


@csrf_exempt
@require_POST
def srt_admission(request: HttpRequest) -> HttpResponse:
    """The SRT gateway asks, during a caller's handshake, whether its streamid (a stream
    key) may publish and with which passphrase; loopback and the shared secret, as nginx."""
    if not _from_nginx(request):
        return HttpResponseForbidden("not the gateway")
    try:
        channel = admission.admit(request.POST.get("streamid", ""))
    except admission.Refused as exc:
        log.info("SRT publish refused: %s", exc)
        return HttpResponseForbidden(str(exc))
    return JsonResponse(channel)
