#include "problem.h"

static const struct {
    int status;
    const char *slug, *title;
} problems[PROBLEM_COUNT] = {
    [PROBLEM_MALFORMED] = {400, "malformed", "Malformed request"},
    [PROBLEM_UNAUTHORIZED] = {401, "unauthorized", "Authentication required"},
    [PROBLEM_FORBIDDEN] = {403, "forbidden", "Forbidden"},
    [PROBLEM_NOT_FOUND] = {404, "not-found", "Not found"},
    [PROBLEM_METHOD_NOT_ALLOWED] = {405, "method-not-allowed", "Method not allowed"},
    [PROBLEM_VERSION_CONFLICT] = {409, "version-conflict", "Version conflict"},
    [PROBLEM_EMAIL_TAKEN] = {409, "email-taken", "Email already registered"},
    [PROBLEM_CONFLICT] = {409, "conflict", "Conflict"},
    [PROBLEM_DUPLICATE_REQUEST] = {409, "duplicate-request", "Duplicate request"},
    [PROBLEM_GROUP_ARCHIVED] = {409, "group-archived", "This group is archived"},
    [PROBLEM_PRECONDITION_FAILED] = {412, "precondition-failed", "Precondition failed"},
    [PROBLEM_TOO_LARGE] = {413, "too-large", "Request body too large"},
    [PROBLEM_UNSUPPORTED_MEDIA] = {415, "unsupported-media-type", "Unsupported media type"},
    [PROBLEM_VALIDATION] = {422, "validation", "Invalid request"},
    [PROBLEM_PRECONDITION_REQUIRED] = {428, "precondition-required", "Precondition required"},
    [PROBLEM_RATE_LIMITED] = {429, "rate-limited", "Too many requests"},
    [PROBLEM_INTERNAL] = {500, "internal", "Internal error"},
    [PROBLEM_UNAVAILABLE] = {503, "unavailable", "Service unavailable"},
    [PROBLEM_TIMEOUT] = {504, "timeout", "Dependency timed out"},
};

int problem_status(enum problem_code code)
{
    return problems[code].status;
}

const char *problem_title(enum problem_code code)
{
    return problems[code].title;
}

json_t *problem_new(enum problem_code code, const char *detail, const struct fields *f)
{
    json_t *p = json_pack("{s:s+, s:s, s:i}", "type", "/problems/", problems[code].slug, "title",
                          problems[code].title, "status", problems[code].status);
    if (detail)
        json_object_set_new(p, "detail", json_string(detail));
    if (f && f->n)
        json_object_set_new(p, "errors", fields_to_json(f));
    return p;
}
