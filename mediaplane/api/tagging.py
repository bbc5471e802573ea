"""TagResource, UntagResource and ListTagsForResource of both services. Keys, values
and the `aws:` prefix are checked against the model by `protocol.validate`; the
limit on a resource's tags in all is checked here."""

from __future__ import annotations

from django.db import models

from mediaplane.api.ivs import ivs
from mediaplane.api.ivs_realtime import ivs_realtime
from mediaplane.api.protocol import Service, validation_error
from mediaplane.services import tagging
from mediaplane.services.errors import not_found


def _resource(service: Service, arn: str, *, for_update: bool = False) -> models.Model:
    resource = tagging.taggable(service=service.name, arn=arn, for_update=for_update)
    if resource is None:
        raise not_found(f"Resource not found: {arn}")
    return resource


def _register(service: Service) -> None:
    @service.operation("TagResource")
    def tag_resource(params: dict) -> dict:
        try:
            tagging.tag(_resource(service, params["resourceArn"], for_update=True), params["tags"])
        except tagging.TooManyTags as exc:
            raise validation_error(str(exc)) from None
        return {}

    @service.operation("UntagResource")
    def untag_resource(params: dict) -> dict:
        tagging.untag(_resource(service, params["resourceArn"], for_update=True), params["tagKeys"])
        return {}

    @service.operation("ListTagsForResource")
    def list_tags_for_resource(params: dict) -> dict:
        return {"tags": _resource(service, params["resourceArn"]).tags}


_register(ivs)
_register(ivs_realtime)
