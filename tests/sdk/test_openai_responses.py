"""The Responses API through the official OpenAI Python SDK: plain, streamed, a tool round
trip, `previous_response_id` chaining, stored responses, JSON schema output — to an
OpenAI-compatible model and to an Anthropic model (translated through the canonical model).
"""
import json

import pytest
from openai import APIError, NotFoundError, OpenAI

MODELS = ["mock/gpt-4o-mini", "anthropic/claude-sonnet-4-5"]

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture()
def client(gateway_url: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway_url}/v1", api_key="sk-responses-test", max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_responses_plain(client: OpenAI, model: str) -> None:
    resp = client.responses.create(model=f"{model};chunks=3", instructions="Be brief.", input="Hi")
    assert resp.id.startswith("resp_")
    assert resp.status == "completed"
    assert resp.output_text == "Hello from the"
    assert resp.output[0].type == "message"
    assert resp.instructions == "Be brief."
    assert resp.usage is not None and resp.usage.output_tokens == 3
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens


@pytest.mark.parametrize("model", MODELS)
def test_responses_stream(client: OpenAI, model: str) -> None:
    events = list(client.responses.create(model=f"{model};chunks=4", input="Hi", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == 4
    assert "".join(deltas) == "Hello from the mock"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response
    assert final.output_text == "Hello from the mock"
    assert final.usage is not None and final.usage.output_tokens == 4


@pytest.mark.parametrize("model", MODELS)
def test_responses_stream_helper_assembles_the_answer(client: OpenAI, model: str) -> None:
    with client.responses.stream(model=f"{model};chunks=5", input="Hi") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == "Hello from the mock provider."
    assert final.output_text == text


@pytest.mark.parametrize("model", MODELS)
def test_responses_tool_round_trip(client: OpenAI, model: str) -> None:
    first = client.responses.create(model=model, input="Weather in Paris?", tools=[WEATHER])
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "mock"}
    # The application runs the tool and sends its output back, continuing the stored answer.
    second = client.responses.create(
        model=f"{model};chunks=2",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "18°C, sunny"}],
        tools=[WEATHER],
    )
    assert second.status == "completed"
    assert second.output_text == "Hello from"
    assert second.previous_response_id == first.id


@pytest.mark.parametrize("model", MODELS)
def test_responses_streamed_tool_call(client: OpenAI, model: str) -> None:
    with client.responses.stream(model=model, input="Weather in Oslo?", tools=[WEATHER]) as stream:
        arg_deltas = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    call = next(o for o in final.output if o.type == "function_call")
    assert "".join(arg_deltas) == call.arguments
    assert json.loads(call.arguments) == {"city": "mock"}


def test_previous_response_id_continues_the_conversation(client: OpenAI, mock_url: str) -> None:
    first = client.responses.create(model="mock/gpt-4o-mini;chunks=2", input="My name is Ada.")
    second = client.responses.create(
        model="mock/gpt-4o-mini;chunks=2", previous_response_id=first.id, input="What is my name?"
    )
    # The stored conversation went upstream: the second call's input is the whole history.
    items = client.responses.input_items.list(second.id, order="asc")
    assert [i.content[0].text for i in items.data] == ["What is my name?"]
    fetched = client.responses.retrieve(second.id)
    assert fetched.id == second.id and fetched.output_text == second.output_text
    assert fetched.usage is not None and second.usage is not None
    # The first turn's input and answer count in the second call's prompt.
    assert second.usage.input_tokens > first.usage.input_tokens


def test_stored_response_can_be_deleted_and_is_private(client: OpenAI, gateway_url: str) -> None:
    resp = client.responses.create(model="mock/gpt-4o-mini;chunks=1", input="Hi")
    other = OpenAI(base_url=f"{gateway_url}/v1", api_key="sk-someone-else", max_retries=0)
    with pytest.raises(NotFoundError):
        other.responses.retrieve(resp.id)
    with pytest.raises(NotFoundError):
        other.responses.create(model="mock/gpt-4o-mini", previous_response_id=resp.id, input="Hi")
    client.responses.delete(resp.id)
    with pytest.raises(NotFoundError):
        client.responses.retrieve(resp.id)


def test_store_false_is_not_kept(client: OpenAI) -> None:
    resp = client.responses.create(model="mock/gpt-4o-mini;chunks=1", input="Hi", store=False)
    assert resp.store is False
    with pytest.raises(NotFoundError):
        client.responses.retrieve(resp.id)


def test_responses_json_schema_format(client: OpenAI) -> None:
    resp = client.responses.create(
        model="mock/gpt-4o-mini;chunks=2",
        input="Give a city",
        text={"format": {"type": "json_schema", "name": "city", "strict": True,
                         "schema": {"type": "object", "properties": {"name": {"type": "string"}},
                                    "required": ["name"], "additionalProperties": False}}},
    )
    assert resp.text.format.type == "json_schema"
    assert resp.status == "completed"


def test_responses_errors(client: OpenAI) -> None:
    with pytest.raises(NotFoundError):
        client.responses.create(model="mock/gpt-4o-mini", previous_response_id="resp_nope", input="Hi")
    with pytest.raises(APIError) as bad:
        client.responses.create(model="mock/gpt-4o-mini", input=[{"type": "item_reference", "id": "x"}])
    assert bad.value.status_code == 400  # type: ignore[attr-defined]


def test_responses_stream_cut_midway_raises(client: OpenAI) -> None:
    with pytest.raises(APIError):
        for _ in client.responses.create(model="mock/gpt-4o-mini;chunks=6;cut_after=2", input="Hi", stream=True):
            pass


def test_input_tokens_are_counted_without_a_provider_call(client: OpenAI) -> None:
    short = client.responses.input_tokens.count(model="mock/gpt-4o-mini", input="Hi")
    assert short.object == "response.input_tokens"
    assert short.input_tokens > 0
    longer = client.responses.input_tokens.count(
        model="mock/gpt-4o-mini", instructions="Be brief.", input="Hi " * 200
    )
    assert longer.input_tokens > short.input_tokens + 150


# ---- OpenAI and Azure take the request as written (the mock serves /v1/responses itself) ----

def test_openai_target_gets_the_request_as_written(client: OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model="openai/gpt-4o-mini;chunks=3", input="Hi",
        tools=[{"type": "web_search"}],
    )
    resp = raw.parse()
    assert resp.id.startswith("resp_mock")  # the upstream's own object came back
    assert resp.output_text == "Hello from the"
    assert resp.store is True  # the client's setting, though the upstream was told store: false
    assert raw.headers.get("x-heimdall-ignored-tools") is None  # OpenAI runs hosted tools itself


def test_openai_target_streams_the_upstream_events(client: OpenAI) -> None:
    with client.responses.stream(model="openai/gpt-4o-mini;chunks=4", input="Hi") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == "Hello from the mock"
    assert final.id.startswith("resp_mock") and final.output_text == text
    assert client.responses.retrieve(final.id).output_text == text


def test_openai_target_tool_round_trip_with_previous_response_id(client: OpenAI) -> None:
    first = client.responses.create(model="openai/gpt-4o-mini", input="Weather?", tools=[WEATHER])
    call = next(o for o in first.output if o.type == "function_call")
    second = client.responses.create(
        model="openai/gpt-4o-mini;chunks=2", previous_response_id=first.id, tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18C"}],
    )
    # The upstream saw the whole conversation (it never stored the first turn) and answered.
    assert second.output_text == "Hello from"
    assert second.previous_response_id == first.id


def test_openai_target_stream_cut_midway_raises(client: OpenAI) -> None:
    with pytest.raises(APIError):
        for _ in client.responses.create(model="openai/gpt-4o-mini;chunks=6;cut_after=3", input="Hi", stream=True):
            pass
