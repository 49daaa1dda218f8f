"""The OpenAPI 3.1 document of /api/v1, served at ``/api/v1/openapi.json``.

It is checked against the app both ways (tests/test_api.py: every route documented,
every documented path routed) and exercised by schemathesis (tests/test_api_schema.py),
so it cannot drift from what the API does.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

REF_PATTERN = "^[0-9a-f]{16}$"
#: Illustrative values (the schema test builds a world where they exist).
EXAMPLE_SLUG = "2026-05-01-solidarity-rally"
EXAMPLE_REF = "0123456789abcdef"
STATES = ["queued", "processing", "failed", "done", "hidden", "rejected"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> dict:
    return {"type": [kind, "null"], **extra}


def _object(properties: dict, description: str = "") -> dict:
    schema = {"type": "object", "required": sorted(properties),
              "properties": properties, "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


_STATUS = {
    "id": {"type": "string", "pattern": REF_PATTERN,
           "description": "The archive's own id for the photo (random)."},
    "state": {"type": "string", "enum": STATES,
              "description": "done: processed, waiting for review or released."},
    "error": _nullable("string", description="Why processing failed, when it did (English)."),
    "message": _nullable("string", description="The same, in the request's language."),
    "faces": _nullable("integer", minimum=0,
                       description="Faces found and obscured; null until processed."),
    "event": {"type": "string", "description": "The event's slug."},
    "created_at": {"type": "string", "format": "date-time"},
    "status_url": {"type": "string", "format": "uri"},
}

_DETAIL = {
    **_STATUS,
    "metadata_removed": {
        "type": "object", "additionalProperties": {"type": "boolean"},
        "description": "Kinds of identifying metadata the upload held (and the archive "
                       "removed), e.g. {\"gps\": true}; never their values."},
    "metadata_removed_words": {"type": "array", "items": {"type": "string"},
                               "description": "The same, in words."},
    "public": {"type": "boolean"},
    "release_blockers": {"type": "array", "items": {"type": "string"},
                         "description": "Why the photo is not public yet, in words."},
    "public_url": _nullable("string", format="uri",
                            description="The public page, once the photo is public."),
    "public_image": _nullable("string", format="uri",
                              description="The anonymised file, once the photo is public."),
}

_PUBLIC_PHOTO = {
    "id": {"type": "string", "pattern": REF_PATTERN},
    "url": {"type": "string", "format": "uri",
            "description": "The anonymised image (every face obscured unless consented)."},
    "thumbnail": _nullable("string", format="uri"),
    "width": _nullable("integer", minimum=1),
    "height": _nullable("integer", minimum=1),
    "credit": {"type": "string"},
    "licence": {"type": "string"},
    "released_at": {"type": "string", "format": "date-time"},
    "page_url": {"type": "string", "format": "uri"},
}

_EVENT = {
    "slug": {"type": "string"},
    "name": {"type": "string"},
    "date": {"type": "string", "format": "date"},
    "description": _nullable("string"),
    "licence": {"type": "string"},
    "photos": {"type": "integer", "minimum": 1, "description": "Released photos."},
    "photos_url": {"type": "string", "format": "uri"},
}


def _page_of(item: str) -> dict:
    return _object({
        "photos": {"type": "array", "items": _ref(item)},
        "next": _nullable("string", format="uri",
                          description="The next page, or null on the last one."),
    })


def _error(description: str, headers: dict | None = None) -> dict:
    response = {"description": description,
                "content": {"application/json": {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


def _ok(description: str, schema: str, status_headers: dict | None = None) -> dict:
    response = {"description": description,
                "content": {"application/json": {"schema": _ref(schema)}}}
    if status_headers:
        response["headers"] = status_headers
    return response


def _errors(*codes: int) -> dict:
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes}


_PAGING = [{"$ref": "#/components/parameters/after"}, {"$ref": "#/components/parameters/limit"}]
_SLUG = {"$ref": "#/components/parameters/slug"}
_PUBLIC = {"security": []}
#: Public reads carry an ETag; a matching If-None-Match is answered 304 with no body.
_ETAG = {"ETag": {"description": "Send it back as If-None-Match to revalidate.",
                  "schema": {"type": "string"}}}
_NOT_MODIFIED = {"304": {"description": "Not modified since the ETag sent in If-None-Match"}}
_TOKEN = {"security": [{"bearer": []}]}

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Protest photo archive API",
        "version": "1.0.0",
        "description": (
            "Public reads of released (anonymised) photos, and, with a personal API "
            "token, batch uploads and status checks of your own photos. Make a token on "
            "the archive's 'API tokens' page (shown once) and send it as "
            "'Authorization: Bearer <token>'. Session cookies are ignored. Lists are "
            "paged newest first: follow 'next'. Every error is {\"error\": English words, "
            "\"message\": the same in the request's language}."),
    },
    "paths": {
        "/api/v1/events": {"get": {
            "operationId": "listEvents", "summary": "Events that have released photos",
            **_PUBLIC,
            "responses": {"200": _ok("Events, newest first", "EventList", _ETAG),
                          **_NOT_MODIFIED, **_errors(429)},
        }},
        "/api/v1/events/{slug}/photos": {
            "parameters": [_SLUG],
            "get": {
                "operationId": "listEventPhotos",
                "summary": "An event's released photos, newest release first",
                **_PUBLIC,
                "parameters": _PAGING,
                "responses": {"200": _ok("A page of released photos", "PublicPhotoPage",
                                          _ETAG),
                              **_NOT_MODIFIED, **_errors(400, 404, 429)},
            },
            "post": {
                "operationId": "uploadPhoto",
                "summary": "Upload a photo to an event you belong to",
                "description": (
                    "The photo is checked, stored privately and queued for processing "
                    "(metadata removed, faces obscured). Follow status_url. The file "
                    "name sent is never stored."),
                **_TOKEN,
                "requestBody": {"required": True, "content": {"multipart/form-data": {
                    "schema": {"type": "object", "required": ["photo"], "properties": {
                        "photo": {"type": "string", "format": "binary",
                                  "description": "JPEG, PNG, WebP, TIFF or HEIC"}}},
                }}},
                "responses": {
                    "202": _ok("Accepted and queued", "PhotoStatus", {
                        "Location": {"description": "The photo's status_url",
                                     "schema": {"type": "string"}}}),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 429),
                },
            },
        },
        "/api/v1/photos": {"get": {
            "operationId": "listMyPhotos", "summary": "Your uploads, newest first",
            **_TOKEN,
            "parameters": _PAGING,
            "responses": {"200": _ok("A page of your photos", "PhotoPage"),
                          **_errors(400, 401, 404, 429)},
        }},
        "/api/v1/photos/{ref}": {"get": {
            "operationId": "getMyPhoto",
            "summary": "One of your photos: processing, metadata report, release",
            **_TOKEN,
            "parameters": [{"$ref": "#/components/parameters/ref"}],
            "responses": {"200": _ok("The photo's status and report", "PhotoDetail"),
                          **_errors(401, 404, 429)},
        }},
        "/api/v1/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document", **_PUBLIC,
            "responses": {"200": {"description": "The OpenAPI document", "headers": _ETAG,
                                  "content": {"application/json": {
                                      "schema": {"type": "object"}}}},
                          **_NOT_MODIFIED, **_errors(429)},
        }},
    },
    "components": {
        "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "A personal API token from the 'API tokens' page."}},
        "parameters": {
            "slug": {"name": "slug", "in": "path", "required": True,
                     "description": "The event's slug (from the events list).",
                     "example": EXAMPLE_SLUG,
                     "schema": {"type": "string", "pattern": "^[a-z0-9-]+$",
                                "maxLength": 120}},
            "ref": {"name": "ref", "in": "path", "required": True,
                    "description": "A photo id (from an upload or a list).",
                    "example": EXAMPLE_REF,
                    "schema": {"type": "string", "pattern": REF_PATTERN}},
            "after": {"name": "after", "in": "query", "required": False,
                      "description": "Continue after this photo id (from the last page).",
                      "example": EXAMPLE_REF,
                      "schema": {"type": "string", "pattern": REF_PATTERN}},
            "limit": {"name": "limit", "in": "query", "required": False,
                      "description": "Photos per page.", "example": 2,
                      "schema": {"type": "integer", "minimum": 1, "maximum": 100,
                                 "default": 24}},
        },
        "schemas": {
            "Error": _object({
                "error": {"type": "string",
                          "description": "What went wrong, in English: the same words "
                                         "whatever language the request asks for."},
                "message": {"type": "string",
                            "description": "The same, in the request's language "
                                           "(?lang=, or Accept-Language: en, ru or fa), "
                                           "for a person to read."}}),
            "Event": _object(_EVENT),
            "EventList": _object({"events": {"type": "array", "items": _ref("Event")}}),
            "PublicPhoto": _object(_PUBLIC_PHOTO),
            "PublicPhotoPage": _page_of("PublicPhoto"),
            "PhotoStatus": _object(_STATUS),
            "PhotoPage": _page_of("PhotoStatus"),
            "PhotoDetail": _object(_DETAIL),
        },
        "responses": {
            "E400": _error("The request is malformed (a parameter, or no file sent)"),
            "E401": _error("No token, or a token that is unknown, revoked or whose "
                           "account is disabled", {"WWW-Authenticate": {
                               "schema": {"type": "string"}, "required": True}}),
            "E403": _error("The token's user may not upload to this event"),
            "E404": _error("No such event, photo, or page anchor"),
            "E409": _error("The same file was uploaded to this event before"),
            "E413": _error("The file is larger than the upload limit"),
            "E415": _error("The file is not an image the archive accepts"),
            "E429": _error("Too many requests; wait and try again", {"Retry-After": {
                "schema": {"type": "string"}, "description": "Seconds to wait"}}),
        },
    },
}


def document() -> dict[str, Any]:
    """A copy of the document (callers may not change the shared one)."""
    return deepcopy(_DOCUMENT)
