"""Governance through every official SDK on its drop-in route. A virtual key that is unknown or
inactive (401), not allowed the model or provider (403), out of budget (402) or rate limited
(429) is refused in the route's own error dialect, so each SDK raises its own exception for that
status, with retries off; a good key goes through. The keys are the `governance` section that
tests/sdk/run.sh writes; each SDK presents the key the way it presents an API key (Bearer,
x-api-key, x-goog-api-key, api-key, Cohere's Bearer, the SigV4 access key id)."""
import os
import subprocess

# LiteLLM fetches its model-cost map from GitHub at import unless told to use its bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import anthropic  # noqa: E402
import boto3  # noqa: E402
import cohere  # noqa: E402
import cohere.errors  # noqa: E402
import litellm  # noqa: E402
import openai  # noqa: E402
import pytest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from cohere.core.api_error import ApiError as CohereApiError  # noqa: E402
from google import genai  # noqa: E402
from google.genai import errors as genai_errors  # noqa: E402
from google.genai import types as genai_types  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

# Priced in run.sh's `pricing.overrides`: a budget is only checked against a priced model.
MODEL = "mock/gpt-4o-mini"
HI = [{"role": "user", "content": "Hi"}]

# case -> (virtual key, model, expected HTTP status; None = the call succeeds)
CASES = {
    "ok": ("sk-bf-sdk-ok", MODEL, None),
    "unknown_key_401": ("sk-bf-sdk-no-such-key", MODEL, 401),
    "inactive_key_401": ("sk-bf-sdk-inactive", MODEL, 401),
    "model_not_allowed_403": ("sk-bf-sdk-restricted", MODEL, 403),
    "provider_not_allowed_403": ("sk-bf-sdk-restricted", "anthropic/claude-sonnet-4-5", 403),
    "budget_spent_402": ("sk-bf-sdk-broke", MODEL, 402),
    "rate_limited_429": ("sk-bf-sdk-throttled", MODEL, 429),
}


def expect(call, status, classes: dict, check) -> None:
    """`call()` succeeds when `status` is None; otherwise raises `classes[status]`, which
    `check(exception, status)` then inspects."""
    if status is None:
        assert call()
        return
    with pytest.raises(classes[status]) as e:
        call()
    check(e.value, status)


def retry_after(value) -> None:
    assert value is not None and int(value) > 0, value


# ---- openai (Python): OpenAI on /v1, AzureOpenAI on the deployment paths, ChatOpenAI ----

OPENAI_ERRORS = {401: openai.AuthenticationError, 402: openai.APIStatusError,
                 403: openai.PermissionDeniedError, 429: openai.RateLimitError}


def check_openai(e: openai.APIStatusError, status: int) -> None:
    assert e.status_code == status
    if status == 402:
        assert type(e) is openai.APIStatusError  # the SDK has no class of its own for 402
    if status == 429:
        retry_after(e.response.headers.get("retry-after"))


def openai_python(gw: str, key: str, model: str, status) -> None:
    client = openai.OpenAI(base_url=f"{gw}/v1", api_key=key, max_retries=0)
    expect(lambda: client.chat.completions.create(model=model, messages=HI).choices[0].message.content,
           status, OPENAI_ERRORS, check_openai)


def openai_azure(gw: str, key: str, model: str, status) -> None:
    # The key goes out as `api-key`.
    client = openai.AzureOpenAI(azure_endpoint=gw, api_key=key, api_version="2024-10-21", max_retries=0)
    expect(lambda: client.chat.completions.create(model=model, messages=HI).choices[0].message.content,
           status, OPENAI_ERRORS, check_openai)


def langchain_openai(gw: str, key: str, model: str, status) -> None:
    chat = ChatOpenAI(base_url=f"{gw}/langchain/v1", api_key=key, model=model, max_retries=0)
    expect(lambda: chat.invoke("Hi").content, status, OPENAI_ERRORS, check_openai)


# ---- anthropic (Python) on /anthropic: x-api-key ----

ANTHROPIC_ERRORS = {401: anthropic.AuthenticationError, 402: anthropic.PaymentRequiredError,
                    403: anthropic.PermissionDeniedError, 429: anthropic.RateLimitError}


def check_anthropic(e: anthropic.APIStatusError, status: int) -> None:
    assert e.status_code == status
    if status == 429:
        retry_after(e.response.headers.get("retry-after"))


def anthropic_python(gw: str, key: str, model: str, status) -> None:
    client = anthropic.Anthropic(base_url=f"{gw}/anthropic", api_key=key, max_retries=0)
    expect(lambda: client.messages.create(model=model, max_tokens=50, messages=HI).content[0].text,
           status, ANTHROPIC_ERRORS, check_anthropic)


# ---- google-genai on /genai: x-goog-api-key; no retries unless retry_options are set ----

GOOGLE_STATUS = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED"}


def check_genai(e: genai_errors.ClientError, status: int) -> None:
    assert e.code == status
    if status in GOOGLE_STATUS:
        assert e.status == GOOGLE_STATUS[status], e.details
    assert e.message
    if status == 429:
        retry_after(e.response.headers.get("retry-after"))


def google_genai(gw: str, key: str, model: str, status) -> None:
    client = genai.Client(api_key=key, http_options=genai_types.HttpOptions(
        base_url=f"{gw}/genai", api_version="v1beta"))
    expect(lambda: client.models.generate_content(model=model, contents="Hi").text,
           status, {s: genai_errors.ClientError for s in (401, 402, 403, 429)}, check_genai)


# ---- cohere ClientV2 on /cohere: Bearer; retries (429 among them) off per request ----

COHERE_ERRORS = {401: cohere.errors.UnauthorizedError, 402: CohereApiError,
                 403: cohere.errors.ForbiddenError, 429: cohere.errors.TooManyRequestsError}


def check_cohere(e: CohereApiError, status: int) -> None:
    assert e.status_code == status
    if status == 402:
        assert type(e) is CohereApiError  # no class of its own for 402
    if status == 429:
        retry_after((e.headers or {}).get("retry-after"))


def cohere_v2(gw: str, key: str, model: str, status) -> None:
    co = cohere.ClientV2(api_key=key, base_url=f"{gw}/cohere")
    expect(lambda: co.chat(model=model, messages=HI, request_options={"max_retries": 0})
           .message.content[0].text, status, COHERE_ERRORS, check_cohere)


# ---- boto3 bedrock-runtime on /bedrock: the virtual key is the SigV4 access key id ----

BEDROCK_CODES = {401: "AccessDeniedException", 402: "ServiceQuotaExceededException",
                 403: "AccessDeniedException", 429: "ThrottlingException"}


def check_bedrock(e: ClientError, status: int) -> None:
    assert e.response["Error"]["Code"] == BEDROCK_CODES[status], e.response
    assert e.response["Error"]["Message"]
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == status
    if status == 429:
        retry_after(e.response["ResponseMetadata"]["HTTPHeaders"].get("retry-after"))


def boto3_bedrock(gw: str, key: str, model: str, status) -> None:
    brt = boto3.client("bedrock-runtime", endpoint_url=f"{gw}/bedrock", region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key="not-checked-for-virtual-keys",
                       config=Config(retries={"max_attempts": 1}))
    expect(lambda: brt.converse(modelId=model, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
           ["output"]["message"]["content"][0]["text"],
           status, {s: ClientError for s in BEDROCK_CODES}, check_bedrock)


# ---- litellm as a client on /litellm: OpenAI protocol, LiteLLM's exceptions ----

# LiteLLM's mapping for its `openai/` provider has no case for 402 or 403: both come out as its
# generic APIError carrying the status (its PermissionDeniedError is for other providers).
LITELLM_ERRORS = {401: litellm.AuthenticationError, 402: litellm.APIError,
                  403: litellm.APIError, 429: litellm.RateLimitError}


def check_litellm(e, status: int) -> None:
    assert e.status_code == status
    if status in (402, 403):
        assert type(e) is litellm.APIError
    if status == 429:
        retry_after(e.response.headers.get("retry-after"))


def litellm_client(gw: str, key: str, model: str, status) -> None:
    expect(lambda: litellm.completion(model=f"openai/{model}", api_base=f"{gw}/litellm/v1",
                                      api_key=key, num_retries=0, max_retries=0, messages=HI)
           .choices[0].message.content, status, LITELLM_ERRORS, check_litellm)


# ---- Node.js: openai and @anthropic-ai/sdk, under Node (tests/sdk/node/governance.mjs) ----

NODE_DIR = os.path.join(os.path.dirname(__file__), "node")


def node(sdk: str):
    def run(gw: str, key: str, model: str, status) -> None:
        proc = subprocess.run(
            ["node", "governance.mjs", sdk, key, model, "ok" if status is None else str(status)],
            cwd=NODE_DIR, capture_output=True, text=True, timeout=60,
            env={**os.environ, "HEIMDALL_URL": gw})
        assert proc.returncode == 0, proc.stderr or proc.stdout
    return run


SDKS = {
    "openai": openai_python,
    "openai_azure": openai_azure,
    "anthropic": anthropic_python,
    "google_genai": google_genai,
    "cohere": cohere_v2,
    "boto3_bedrock": boto3_bedrock,
    "langchain_openai": langchain_openai,
    "litellm": litellm_client,
    "node_openai": node("openai"),
    "node_anthropic": node("anthropic"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("sdk", SDKS)
def test_governance_errors(gateway_url: str, sdk: str, case: str) -> None:
    key, model, status = CASES[case]
    SDKS[sdk](gateway_url, key, model, status)
