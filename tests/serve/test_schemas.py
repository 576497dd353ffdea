import pytest

from erroracle.serve.problems import ApiError
from erroracle.serve.schemas import (
    FeedbackRequest,
    PredictRequest,
    SuggestRequest,
    report_item,
    validated,
)


def _refused(call) -> ApiError:
    with pytest.raises(ApiError) as refused:
        call()
    return refused.value


def test_types_are_strict_and_the_field_is_named():
    assert validated(PredictRequest, {"error_message": "x", "top_k": 5}).top_k == 5
    for body, field in [({"error_message": "x", "top_k": "5"}, "top_k"),
                        ({"error_message": ""}, "error_message"),
                        ({"error_message": "x", "top_k": 51}, "top_k"),
                        ({"error_message": "x", "top_k": 0}, "top_k"),
                        ({"error_message": " \n\t "}, "error_message"),
                        ({"error_message": "x", "colour": "red"}, "colour")]:
        assert _refused(lambda body=body: validated(PredictRequest, body)).field == field


def test_feedback_needs_exactly_one_target():
    assert validated(FeedbackRequest, {"error_id": "e", "solution_worked": False}).error_id == "e"
    for body in [{"solution_worked": True},
                 {"error_id": "e", "prediction_id": "p", "solution_worked": True}]:
        assert "exactly one" in _refused(lambda body=body: validated(FeedbackRequest,
                                                                     body)).message


def test_report_items_map_the_api_names_and_refuse_server_fields():
    assert report_item({"error_message": "m", "error_id": "err-1"}, 0) == {
        "message": "m", "id": "err-1", "source": "app"}
    assert _refused(lambda: report_item({"received_at": "2020"}, 3)).field == "errors.3.received_at"
    assert _refused(lambda: report_item({"source": "reddit"}, 0)).field == "errors.0.source"
    assert _refused(lambda: report_item({"message": "a", "error_message": "b"}, 1)).field == (
        "errors.1.error_message")
    assert _refused(lambda: report_item("text", 2)).field == "errors.2"


def test_a_query_may_be_long_but_not_blank():
    assert validated(SuggestRequest, {"error_message": "x" * 20_000, "top_k": 50}).top_k == 50
    assert _refused(lambda: validated(SuggestRequest, {"error_message": "   "})).field == (
        "error_message")
