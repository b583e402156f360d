"""The OpenAPI schema generator: every operation documents the error shape (portal.api.ErrorResponse)."""

from drf_spectacular import openapi

from portal.api import ErrorResponse

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input.",
    "401": "No credentials, or an invalid, expired or revoked token.",
    "403": "The caller's role or token does not allow this.",
    "404": "No such object, or one the caller cannot see (another tenant's).",
}


class AutoSchema(openapi.AutoSchema):
    """Document the error shape on every operation, besides what the view declares."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["401", "403", "404"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.insert(0, "400")
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorResponse, code, direction=direction)
                response["description"] = _ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses
