"""amoCRM API v4 JSON as msgspec Structs, spelled as amoCRM spells it (HAL `_embedded`, `_links`, `_page`).

Sources read (2025), shapes confirmed against the official PHP client:
- OAuth 2.0: https://www.amocrm.ru/developers/content/oauth/step-by-step and
  https://developers.kommo.com/reference/get-token (Kommo is amoCRM's international edition, same API):
  `POST https://{subdomain}.amocrm.ru/oauth2/access_token` with JSON {client_id, client_secret,
  grant_type: "authorization_code"|"refresh_token", code|refresh_token, redirect_uri} →
  {token_type: "Bearer", expires_in: 86400, access_token, refresh_token}. The access token lives one day;
  the refresh token lives three months and is single-use: every refresh returns a new one and spends the
  old one for every client (github.com/amocrm/amocrm-api-php issue #475).
- Contacts: https://www.amocrm.ru/developers/content/crm_platform/contacts-api and
  https://developers.kommo.com/reference/contacts-list: `GET /api/v4/contacts?query=…` searches the filled
  fields (a phone number included) and answers application/hal+json {_page, _links, _embedded: {contacts}}
  or 204 with no body when nothing matches; `POST /api/v4/contacts` takes an array of contacts with
  custom_fields_values [{field_code: "PHONE", values: [{value, enum_code: "MOB"}]}] and answers
  {_links, _embedded: {contacts: [{id, request_id, _links}]}}.
- Notes: https://www.amocrm.ru/developers/content/crm_platform/events-and-notes,
  https://developers.kommo.com/reference/notes-by-entity-id and .../notes-types:
  `POST /api/v4/contacts/{id}/notes` takes [{note_type: "common", params: {text}}] and answers
  {_embedded: {notes: [{id, entity_id, request_id}]}}; `GET /api/v4/contacts/{id}/notes` with
  filter[note_type], order, limit (≤ 250) answers {_embedded: {notes: [note]}} or 204.
- Limits: https://developers.kommo.com/docs/limitations ("not more than 7 requests per second"; over the
  limit 429, repeated abuse blocks the IP with 403). Errors are application/problem+json {title, type,
  status, detail} with `validation-errors` on 400 (www.amocrm.com/developers/content/api/errors).
- amocrm/amocrm-api-php src/AmoCRM/Client/AmoCRMApiRequest.php: 204 is an empty answer, one refresh
  and one retry on 401, 429 is "too many requests" with no Retry-After read.
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Wire(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Unknown fields are ignored on decode (amoCRM adds fields freely); unset ones are not sent."""


# OAuth 2.0 (read by the TokenSource; here so the test server and the token code share one spelling)


class OAuthTokenRequest(_Wire):
    client_id: str
    client_secret: str
    grant_type: str  # authorization_code | refresh_token
    redirect_uri: str
    code: str | None = None
    refresh_token: str | None = None


class OAuthTokenResponse(_Wire):
    token_type: str
    expires_in: int
    access_token: str
    refresh_token: str


# HAL parts


class Link(_Wire):
    href: str


class Links(_Wire):
    self_: Link | None = msgspec.field(default=None, name="self")
    next: Link | None = None


# Contacts


class CustomFieldValue(_Wire):
    value: Any = None  # a phone is a string; other field types carry numbers, booleans or objects
    enum_id: int | None = None
    enum_code: str | None = None  # PHONE: WORK, WORKDD, MOB, FAX, HOME, OTHER


class CustomField(_Wire):
    field_id: int | None = None
    field_name: str | None = None
    field_code: str | None = None  # PHONE, EMAIL, POSITION … for the predefined fields
    field_type: str | None = None
    values: list[CustomFieldValue] = []


class Tag(_Wire):
    id: int | None = None
    name: str | None = None


class ContactEmbedded(_Wire):
    tags: list[Tag] = []


class Contact(_Wire):
    id: int
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    responsible_user_id: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    is_deleted: bool | None = None
    custom_fields_values: list[CustomField] | None = None
    account_id: int | None = None
    embedded: ContactEmbedded | None = msgspec.field(default=None, name="_embedded")


class ContactsEmbedded(_Wire):
    contacts: list[Contact] = []


class ContactsPage(_Wire):
    page: int | None = msgspec.field(default=None, name="_page")
    links: Links | None = msgspec.field(default=None, name="_links")
    embedded: ContactsEmbedded = msgspec.field(default_factory=ContactsEmbedded, name="_embedded")


class NewContact(_Wire):
    """One element of the array POSTed to /api/v4/contacts."""

    name: str
    custom_fields_values: list[CustomField] = []
    embedded: ContactEmbedded | None = msgspec.field(default=None, name="_embedded")
    request_id: str | None = None


class Created(_Wire):
    """What amoCRM answers for each created entity (contact or note)."""

    id: int
    entity_id: int | None = None  # notes only
    request_id: str | None = None
    links: Links | None = msgspec.field(default=None, name="_links")


class CreatedContactsEmbedded(_Wire):
    contacts: list[Created] = []


class CreatedContacts(_Wire):
    links: Links | None = msgspec.field(default=None, name="_links")
    embedded: CreatedContactsEmbedded = msgspec.field(
        default_factory=CreatedContactsEmbedded, name="_embedded"
    )


# Notes


class NoteParams(_Wire):
    text: str | None = None  # common, service_message, sms_in/out, geolocation
    service: str | None = None  # service_message


class NewNote(_Wire):
    """One element of the array POSTed to /api/v4/contacts/{id}/notes."""

    note_type: str  # "common": a text note
    params: NoteParams
    entity_id: int | None = None  # implied by the path; sent too, as /api/v4/contacts/notes needs it
    request_id: str | None = None


class Note(_Wire):
    id: int
    entity_id: int | None = None
    created_by: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    note_type: str | None = None
    # params differ by note_type; PHP's encoder may send an empty params as []
    params: NoteParams | list[Any] | None = None
    account_id: int | None = None


class NotesEmbedded(_Wire):
    notes: list[Note] = []


class NotesPage(_Wire):
    page: int | None = msgspec.field(default=None, name="_page")
    links: Links | None = msgspec.field(default=None, name="_links")
    embedded: NotesEmbedded = msgspec.field(default_factory=NotesEmbedded, name="_embedded")


class CreatedNotesEmbedded(_Wire):
    notes: list[Created] = []


class CreatedNotes(_Wire):
    links: Links | None = msgspec.field(default=None, name="_links")
    embedded: CreatedNotesEmbedded = msgspec.field(default_factory=CreatedNotesEmbedded, name="_embedded")


# Errors (application/problem+json)


class ValidationItem(_Wire):
    code: str | None = None
    path: str | None = None
    detail: str | None = None


class ValidationError(_Wire):
    request_id: str | None = None
    errors: list[ValidationItem] = []


class Problem(_Wire):
    title: str | None = None
    type: str | None = None
    status: int | None = None
    detail: str | None = None
    validation_errors: list[ValidationError] = msgspec.field(default_factory=list, name="validation-errors")
