#!/usr/bin/env python3
"""Local AWS emulator for the tests, the local demo and the benchmark.

One process, one loopback port. Every AWS call is identified (service and
operation), recorded, optionally delayed or failed on purpose, answered by a
canned stub or by the few APIs served here (CodePipeline job results and
pipeline state, CodeDeploy hooks, CloudWatch DescribeAlarms over Smithy RPC v2
CBOR), and otherwise forwarded to moto's server app. A small JSON control API
under /_local/ drives all of this; see README.md next to this file.

Usage: python3 local_aws.py [--host 127.0.0.1] [--port 0]
Prints exactly one line, "LOCAL_AWS_READY port=<N>", once it accepts
connections. Exits when stdin reaches EOF, and on SIGTERM/SIGINT.
"""

import argparse
import base64
import copy
import datetime
import gzip
import io
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from urllib.parse import parse_qs

import cbor2
from werkzeug.exceptions import InternalServerError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.test import create_environ

_T0 = time.monotonic()


def now_ms():
    """Milliseconds since the emulator started (monotonic clock)."""
    return (time.monotonic() - _T0) * 1000.0


# Names accepted in faults and stubs besides the SigV4 signing names.
SERVICE_ALIASES = {"cloudwatch": "monitoring", "elbv2": "elasticloadbalancing"}
# awsJson target prefixes / CBOR service names -> signing name (unsigned calls).
API_SERVICES = {
    "CodePipeline_20150709": "codepipeline",
    "CodeDeploy_20141006": "codedeploy",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "GraniteServiceVersion20100801": "monitoring",
}
# One cheap read per service the project uses, to load moto's backends early
# (--warm): (signing name, awsJson target or None, body).
WARM_UP = [
    ("s3", None, b""),
    ("ecr", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", b"{}"),
    ("ecs", "AmazonEC2ContainerServiceV20141113.ListClusters", b"{}"),
    ("codepipeline", "CodePipeline_20150709.ListPipelines", b"{}"),
    ("codedeploy", "CodeDeploy_20141006.ListApplications", b"{}"),
    ("kms", "TrentService.ListKeys", b"{}"),
    ("sts", None, b"Action=GetCallerIdentity&Version=2011-06-15"),
    ("ec2", None, b"Action=DescribeVpcs&Version=2016-11-15"),
    ("elasticloadbalancing", None, b"Action=DescribeLoadBalancers&Version=2015-12-01"),
]
CBOR_PATH = re.compile(r"(?:/.*)?/service/([^/]+)/operation/([^/]+)\Z")
CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
OUTPUT_VARIABLE_KEY = re.compile(r"[A-Za-z0-9@\-_]+\Z")
FAILURE_TYPES = {
    "JobFailed", "ConfigurationError", "PermissionError",
    "RevisionOutOfSync", "RevisionUnavailable", "SystemUnavailable",
}
FAULT_KINDS = {"throttle", "error", "reset", "delay"}
# (status, code, message) per protocol for the "throttle" and "error" faults.
FAULTS = {
    "throttle": {
        "json": (400, "ThrottlingException", "Rate exceeded"),
        "cbor": (400, "ThrottlingException", "Rate exceeded"),
        "query": (400, "Throttling", "Rate exceeded"),
        "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
        "s3": (503, "SlowDown", "Please reduce your request rate."),
    },
    "error": {
        "json": (500, "InternalFailure", "An internal error occurred."),
        "cbor": (500, "InternalFailure", "An internal error occurred."),
        "query": (500, "InternalFailure", "An internal error occurred."),
        "ec2": (500, "InternalError", "An internal error has occurred."),
        "s3": (500, "InternalError", "We encountered an internal error. Please try again."),
    },
}
# S3 sub-resources (query keys) that name an operation: GetBucketPolicy, ...
S3_SUBRESOURCES = (
    "tagging", "acl", "policy", "versioning", "location", "lifecycle", "encryption",
    "cors", "website", "notification", "logging", "replication", "object-lock",
    "retention", "legal-hold", "attributes", "ownershipControls", "publicAccessBlock",
    "accelerate", "requestPayment", "restore", "select",
)
# CloudWatch members modelled as doubles: JSON integers there become CBOR floats.
CBOR_DOUBLES = {"Threshold", "Average", "Sum", "Minimum", "Maximum", "SampleCount", "Values"}


class ApiError(Exception):
    """An AWS error answered in the caller's protocol."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Call:
    """What one incoming AWS request is."""

    service = "unknown"
    operation = "unknown"
    protocol = "json"  # json | cbor | query | ec2 | s3 | rest
    api = ""           # awsJson target prefix or CBOR service name
    content_type = ""
    request = None     # decoded JSON/CBOR body, for the log and stub matching
    params = None      # awsQuery/EC2 parameters, for stub matching


# ---------------------------------------------------------------- encoding

def _jsonable(value):
    """CBOR-decoded value -> JSON value (timestamps as epoch seconds, blobs base64)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, cbor2.CBORTag):
        return _jsonable(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is cbor2.undefined:
        return None
    return value


def _epoch(value):
    """Epoch seconds from a number or an ISO-8601 string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    return None


def _to_cbor(value, key=""):
    """JSON value -> CBOR-ready value, following the RPC v2 CBOR rules: nulls
    omitted, members named *Timestamp(s) as tag 1 with a float (the Rust SDK
    reads timestamps as floats), known double members as floats."""
    if isinstance(value, dict):
        return {k: _to_cbor(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_cbor(v, key) for v in value if v is not None]
    if key.endswith(("Timestamp", "Timestamps")) and _epoch(value) is not None:
        return cbor2.CBORTag(1, _epoch(value))
    if key in CBOR_DOUBLES and not isinstance(value, bool):
        if isinstance(value, int) or value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
    return value


def _xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _to_query_xml(value):
    """JSON value -> awsQuery XML members (lists as <member> items)."""
    if isinstance(value, dict):
        return "".join(f"<{k}>{_to_query_xml(v)}</{k}>" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "".join(f"<member>{_to_query_xml(v)}</member>" for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return _xml_escape(str(value))


def _matches(want, got):
    """True when `want` is a subset of `got` (dicts compared recursively)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _matches(v, got[k]) for k, v in want.items())
    return want == got


def _response(status, headers, body):
    return status, headers, body if isinstance(body, bytes) else body.encode()


def ok_response(call, data):
    """A successful answer in the caller's protocol. A str body is sent as is."""
    rid = str(uuid.uuid4())
    if isinstance(data, str):
        kind = "application/xml" if data.lstrip().startswith("<") else "text/plain"
        return _response(200, [("Content-Type", kind), ("x-amzn-RequestId", rid)], data)
    if call.protocol == "cbor":
        return _response(200, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                               ("x-amzn-RequestId", rid)], cbor2.dumps(_to_cbor(data)))
    if call.protocol == "query":
        op = call.operation
        xml = (f"<{op}Response><{op}Result>{_to_query_xml(data)}</{op}Result>"
               f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{op}Response>")
        return _response(200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], xml)
    return _response(200, [("Content-Type", _json_content_type(call)), ("x-amzn-RequestId", rid)],
                     json.dumps(data))


def error_response(call, code, message, status):
    """An AWS error in the caller's protocol."""
    rid = str(uuid.uuid4())
    code_x, msg_x = _xml_escape(code), _xml_escape(message)
    if call.protocol == "cbor":
        return _response(status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                                  ("x-amzn-RequestId", rid)],
                         cbor2.dumps({"__type": code, "message": message}))
    if call.protocol == "s3":
        xml = f"<Error><Code>{code_x}</Code><Message>{msg_x}</Message><RequestId>{rid}</RequestId></Error>"
        return _response(status, [("Content-Type", "application/xml"), ("x-amz-request-id", rid)], xml)
    if call.protocol == "query":
        kind = "Sender" if status < 500 else "Receiver"
        xml = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code_x}</Code><Message>{msg_x}</Message>"
               f"</Error><RequestId>{rid}</RequestId></ErrorResponse>")
        return _response(status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], xml)
    if call.protocol == "ec2":
        xml = (f"<Response><Errors><Error><Code>{code_x}</Code><Message>{msg_x}</Message></Error>"
               f"</Errors><RequestID>{rid}</RequestID></Response>")
        return _response(status, [("Content-Type", "text/xml")], xml)
    return _response(status, [("Content-Type", _json_content_type(call)), ("x-amzn-RequestId", rid),
                              ("x-amzn-ErrorType", code)],
                     json.dumps({"__type": code, "message": message}))


def _json_content_type(call):
    return call.content_type if call.content_type.startswith("application/x-amz-json") \
        else "application/x-amz-json-1.1"


# ---------------------------------------------------------------- requests

def read_body(environ):
    """Read the whole request body once and put it back for whoever reads next."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


def s3_operation(method, path, query, environ):
    """Best-effort S3 operation name for a path-style request."""
    bucket, _, key = path.lstrip("/").partition("/")
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(method, method)
    sub = next((s for s in S3_SUBRESOURCES if s in query), "")
    sub = "".join(w[:1].upper() + w[1:] for w in sub.split("-"))
    copy_source = "HTTP_X_AMZ_COPY_SOURCE" in environ
    if not bucket:
        return "ListBuckets" if method == "GET" else verb
    if key:
        if "uploadId" in query:
            return {"PUT": "UploadPartCopy" if copy_source else "UploadPart", "GET": "ListParts",
                    "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload"}.get(method, verb)
        if method == "POST" and "uploads" in query:
            return "CreateMultipartUpload"
        if method == "PUT" and copy_source and not sub:
            return "CopyObject"
        return f"{verb}Object{sub}"
    if method == "GET" and "versions" in query:
        return "ListObjectVersions"
    if method == "GET" and "uploads" in query:
        return "ListMultipartUploads"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "GET" and not sub:
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    if method == "PUT" and not sub:
        return "CreateBucket"
    return f"{verb}Bucket{sub}"


def _decode(body, environ, decoder):
    if "gzip" in environ.get("HTTP_CONTENT_ENCODING", ""):
        body = gzip.decompress(body)
    return decoder(body) if body.strip() else {}


# ---------------------------------------------------------------- the app

class LocalAws:
    """The WSGI app: control API, recording, faults, stubs, built-ins, moto."""

    def __init__(self, moto_app=None):
        if moto_app is None:
            from moto.server import DomainDispatcherApplication, create_backend_app
            moto_app = DomainDispatcherApplication(create_backend_app)
        self.moto = moto_app
        self.lock = threading.Lock()
        self.seq = 0
        self._clear()
        self.builtins = {
            ("CodePipeline_20150709", "PutJobSuccessResult"): self.put_job_success_result,
            ("CodePipeline_20150709", "PutJobFailureResult"): self.put_job_failure_result,
            ("CodePipeline_20150709", "GetPipelineState"): self.get_pipeline_state,
            ("CodePipeline_20150709", "RollbackStage"): self.rollback_stage,
            ("CodePipeline_20150709", "DisableStageTransition"): self.disable_stage_transition,
            ("CodePipeline_20150709", "EnableStageTransition"): self.enable_stage_transition,
            ("CodeDeploy_20141006", "PutLifecycleEventHookExecutionStatus"): self.put_hook_status,
            ("CodeDeploy_20141006", "StopDeployment"): self.stop_deployment,
            ("GraniteServiceVersion20100801", "DescribeAlarms"): self.describe_alarms,
        }

    def _clear(self):
        """Forget calls, faults, stubs, jobs, state and latency (lock held or not shared yet)."""
        self.calls, self.faults, self.stubs, self.jobs = [], [], [], {}
        self.state = {"pipelines": {}, "alarms": []}
        self.latency_ms = 0.0

    # ---- WSGI entry point

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_local/"):
            return self.control(environ, start_response)
        if path.startswith("/moto-api"):
            return self.moto(environ, start_response)
        start = now_ms()
        call = self.identify(environ)
        with self.lock:
            self.seq += 1
            seq = self.seq
            fault = self._take_fault(call)
            kind = fault["kind"] if fault else None
            stub = self._find_stub(call) if kind in (None, "delay") else None
            delay = self.latency_ms + (fault["delay_ms"] if kind == "delay" else 0)
        if delay > 0:
            time.sleep(delay / 1000.0)
        if kind == "reset":
            self._record(seq, call, start, 0, kind)
            reset_connection(environ)
            raise ConnectionResetError("connection reset on purpose")  # werkzeug stays quiet
        try:
            if kind in ("throttle", "error"):
                status, headers, body = error_response(call, *self._fault_error(call, kind))
            elif stub is not None:
                status, headers, body = self._stub_response(call, stub)
            else:
                status, headers, body = self._serve(environ, call)
        except Exception as exc:  # a bug here: answer like AWS would, say why on stderr
            traceback.print_exc(file=sys.stderr)
            status, headers, body = error_response(call, "InternalFailure", repr(exc), 500)
        self._record(seq, call, start, status, kind)
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def identify(self, environ):
        """Service, operation and protocol of a request; reads the body unless S3."""
        call = Call()
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        call.content_type = environ.get("CONTENT_TYPE", "")
        cbor_path = CBOR_PATH.match(path) if method == "POST" else None
        is_cbor = bool(cbor_path) or environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor"
        if target:
            call.api, _, call.operation = target.rpartition(".")
        elif cbor_path:
            call.api, call.operation = cbor_path.group(1).split(".")[-1], cbor_path.group(2)
        credential = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        scope = (credential.group(1) if credential else query.get("X-Amz-Credential", [""])[0]).split("/")
        body = None
        if len(scope) == 5:  # AKID/DATE/REGION/SERVICE/aws4_request
            call.service = scope[3].lower()
        else:  # unsigned or SigV4a: the API's name, else moto's guess
            body = read_body(environ)
            call.service = API_SERVICES.get(call.api) or self._moto_guess(environ)
        if call.service == "s3" and not (target or is_cbor):
            call.protocol = "s3"
            call.operation = s3_operation(method, path, query, environ)
            return call
        if body is None:
            body = read_body(environ)
        if is_cbor:
            call.protocol = "cbor"
            try:
                call.request = _jsonable(_decode(body, environ, cbor2.loads))
            except Exception:  # not ours to reject: log it as null
                call.request = None
        elif target:
            try:
                call.request = _decode(body, environ, json.loads)
            except (ValueError, OSError):
                call.request = None
        else:
            form = call.content_type.startswith("application/x-www-form-urlencoded")
            params = parse_qs(body.decode("utf-8", "replace")) if form else query
            call.params = {k: v[0] for k, v in params.items()}
            if "Action" in call.params:
                call.operation = call.params["Action"]
                call.protocol = "ec2" if call.service == "ec2" else "query"
            else:
                call.protocol, call.operation = "rest", f"{method} {path}"
        return call

    def warm_up(self, region):
        """Load moto's backends for the project's services (not recorded)."""
        for service, target, body in WARM_UP:
            headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential=LOCAL/20000101/{region}/{service}"
                                        "/aws4_request, SignedHeaders=host, Signature=0"}
            if target:
                headers["X-Amz-Target"] = target
            kind = "application/x-amz-json-1.1" if target else "application/x-www-form-urlencoded"
            run_wsgi(self.moto, create_environ("/", method="POST" if body else "GET", headers=headers,
                                               data=body, content_type=kind if body else None))

    def _moto_guess(self, environ):
        try:
            return str(self.moto.get_application(environ).service)
        except Exception:
            return "unknown"

    def _record(self, seq, call, start, status, fault):
        entry = {"seq": seq, "service": call.service, "operation": call.operation,
                 "start_ms": start, "end_ms": now_ms(), "status": status, "fault": fault,
                 "request": call.request}
        with self.lock:
            self.calls.append(entry)

    # ---- faults and stubs (lock held)

    def _take_fault(self, call):
        for fault in self.faults:
            if self._targets(fault, call):
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                return dict(fault)
        return None

    def _find_stub(self, call):
        data = call.request if call.request is not None else call.params
        for stub in reversed(self.stubs):
            if self._targets(stub, call) and _matches(stub["match"], data or {}):
                return stub
        return None

    @staticmethod
    def _targets(rule, call):
        return rule["service"] in ("*", call.service) and rule["operation"] in ("*", call.operation)

    @staticmethod
    def _fault_error(call, kind):
        status, code, message = FAULTS[kind].get(call.protocol, FAULTS[kind]["json"])
        return code, message, status

    def _stub_response(self, call, stub):
        error = stub.get("error")
        if error:
            return error_response(call, error["type"], error.get("message", error["type"]),
                                  int(error.get("status", 400)))
        return ok_response(call, stub.get("response", {}))

    # ---- built-ins and moto

    def _serve(self, environ, call):
        handler = self.builtins.get((call.api, call.operation))
        if handler is None and call.protocol == "cbor":
            return error_response(call, "UnknownOperationException",
                                  f"{call.operation} is not served here; add a stub", 400)
        if handler is None:
            return self._forward(environ, call)
        try:
            return ok_response(call, handler(call.request if isinstance(call.request, dict) else {}))
        except ApiError as err:
            return error_response(call, err.code, err.message, err.status)

    def _forward(self, environ, call):
        try:
            return run_wsgi(self.moto, environ)
        except Exception as exc:  # moto's "not implemented" and its bugs: a 500 HTML page
            print(f"local-aws: moto failed on {call.service}.{call.operation}: {exc!r}", file=sys.stderr)
            return run_wsgi(InternalServerError(), environ)

    # ---- CodePipeline

    def put_job_success_result(self, req):
        job_id = _job_id(req)
        token = req.get("continuationToken")
        details = req.get("executionDetails") or {}
        _check_length(details.get("summary"), "executionDetails.summary", 2048)
        _check_length(details.get("externalExecutionId"), "executionDetails.externalExecutionId", 1500)
        percent = details.get("percentComplete")
        if percent is not None and (not isinstance(percent, int) or not 0 <= percent <= 100):
            raise _validation(percent, "executionDetails.percentComplete",
                              "Member must have value between 0 and 100")
        _check_length(token, "continuationToken", 2048)
        variables = req.get("outputVariables")
        if variables is not None:
            if token is not None:
                raise ApiError("ValidationException",
                               "outputVariables can only be specified when there is no continuation token")
            for key in variables:
                if not OUTPUT_VARIABLE_KEY.match(key):
                    raise _validation(key, "outputVariables", "Map keys must satisfy constraint: "
                                      "[Member must satisfy regular expression pattern: [A-Za-z0-9@\\-_]+]")
            size = sum(len(k.encode()) + len(str(v).encode()) for k, v in variables.items())
            if size > 122880:
                raise ApiError("OutputVariablesSizeExceededException",
                               f"The output variables of the action exceed the 122880 byte limit ({size} bytes)")
        return self._end_job(job_id, "Continued" if token is not None else "Succeeded", req)

    def put_job_failure_result(self, req):
        job_id = _job_id(req)
        details = req.get("failureDetails")
        if not isinstance(details, dict):
            raise _validation(None, "failureDetails", "Member must not be null")
        if details.get("type") not in FAILURE_TYPES:
            raise _validation(details.get("type"), "failureDetails.type",
                              f"Member must satisfy enum value set: [{', '.join(sorted(FAILURE_TYPES))}]")
        if details.get("message") is None:
            raise _validation(None, "failureDetails.message", "Member must not be null")
        _check_length(details["message"], "failureDetails.message", 5000)
        _check_length(details.get("externalExecutionId"), "failureDetails.externalExecutionId", 1500)
        return self._end_job(job_id, "Failed", req)

    def _end_job(self, job_id, status, req):
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None:
                job["rejected"] += 1
                raise ApiError("InvalidJobStateException",
                               f"Job {job_id} is not in a state that accepts a result: "
                               f"it already ended ({job['status']})")
            self.jobs[job_id] = {"status": status, "request": req, "reports": 1, "rejected": 0}
        return {}

    def get_pipeline_state(self, req):
        name = req.get("name")
        with self.lock:
            pipeline = self.state["pipelines"].get(name)
            if pipeline is None:
                raise ApiError("PipelineNotFoundException",
                               f"Account '123456789012' does not have a pipeline with name '{name}'")
            return copy.deepcopy(pipeline)

    def rollback_stage(self, req):
        for field in ("pipelineName", "stageName", "targetPipelineExecutionId"):
            if not req.get(field):
                raise _validation(None, field, "Member must not be null")
        return {"pipelineExecutionId": str(uuid.uuid4())}

    def disable_stage_transition(self, req):
        reason = req.get("reason")
        if reason is None:
            raise _validation(None, "reason", "Member must not be null")
        _check_length(reason, "reason", 300)
        return self._set_transition(req, False, reason)

    def enable_stage_transition(self, req):
        return self._set_transition(req, True, None)

    def _set_transition(self, req, enabled, reason):
        kind = req.get("transitionType")
        if kind not in ("Inbound", "Outbound"):
            raise _validation(kind, "transitionType", "Member must satisfy enum value set: [Inbound, Outbound]")
        transition = {"enabled": enabled, "lastChangedBy": "arn:aws:iam::123456789012:user/local",
                      "lastChangedAt": time.time()}
        if reason is not None:
            transition["disabledReason"] = reason
        with self.lock:
            stages = (self.state["pipelines"].get(req.get("pipelineName")) or {}).get("stageStates") or []
            names = [s.get("stageName") for s in stages]
            if req.get("stageName") in names:
                # An Outbound transition of a stage is the Inbound one of the next stage.
                index = names.index(req["stageName"]) + (kind == "Outbound")
                if index < len(stages):
                    stages[index]["inboundTransitionState"] = transition
        return {}

    # ---- CodeDeploy

    def put_hook_status(self, req):
        return {"lifecycleEventHookExecutionId": req.get("lifecycleEventHookExecutionId")}

    def stop_deployment(self, req):
        return {"status": "Pending", "statusMessage": f"Stopping deployment {req.get('deploymentId')}"}

    # ---- CloudWatch

    def describe_alarms(self, req):
        names, prefix, state = req.get("AlarmNames"), req.get("AlarmNamePrefix"), req.get("StateValue")
        types = req.get("AlarmTypes")
        with self.lock:
            alarms = copy.deepcopy(self.state["alarms"])
        if types is not None and "MetricAlarm" not in types:
            alarms = []
        alarms = [a for a in alarms
                  if (not names or a.get("AlarmName") in names)
                  and (prefix is None or str(a.get("AlarmName", "")).startswith(prefix))
                  and (state is None or a.get("StateValue") == state)]
        return {"MetricAlarms": alarms, "CompositeAlarms": []}

    # ---- control API

    def control(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")[len("/_local"):].rstrip("/")
        try:
            raw = read_body(environ)
            data = json.loads(raw) if raw.strip() else {}
            status, result = self._control(method, path, data, environ)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            status, result = 400, {"error": f"bad request: {exc}"}
        body = json.dumps(result).encode()
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _control(self, method, path, data, environ):
        ok = (200, {"ok": True})
        if (method, path) == ("GET", "/health"):
            return ok
        if (method, path) == ("GET", "/calls"):
            query = parse_qs(environ.get("QUERY_STRING", ""))
            service, operation = query.get("service", [None])[0], query.get("operation", [None])[0]
            with self.lock:
                calls = sorted(self.calls, key=lambda c: c["seq"])
            return 200, [c for c in calls if service in (None, c["service"])
                         and operation in (None, c["operation"])]
        if (method, path) == ("POST", "/calls/reset"):
            with self.lock:
                self.calls = []
            return ok
        if path == "/faults" and method in ("GET", "POST", "DELETE"):
            with self.lock:
                if method == "POST":
                    self.faults.append(_fault(data))
                elif method == "DELETE":
                    self.faults = []
                return (200, copy.deepcopy(self.faults)) if method == "GET" else ok
        if (method, path) == ("POST", "/latency"):
            ms = float(data.get("ms", 0))
            if ms < 0:
                raise ValueError("ms must be >= 0")
            with self.lock:
                self.latency_ms = ms
            return ok
        if path == "/stubs" and method in ("GET", "POST", "DELETE"):
            with self.lock:
                if method == "POST":
                    self.stubs.append(_stub(data))
                elif method == "DELETE":
                    self.stubs = []
                return (200, copy.deepcopy(self.stubs)) if method == "GET" else ok
        if method == "GET" and (path == "/jobs" or path.startswith("/jobs/")):
            with self.lock:
                if path == "/jobs":
                    return 200, copy.deepcopy(self.jobs)
                job = self.jobs.get(path[len("/jobs/"):])
                return (200, copy.deepcopy(job)) if job else (404, {"error": "no such job"})
        if path == "/state" and method in ("GET", "POST"):
            with self.lock:
                if method == "POST":
                    self._set_state(data)
                return 200, copy.deepcopy(self.state)
        if (method, path) == ("POST", "/reset"):
            with self.lock:
                self._clear()
            if data.get("moto"):
                run_wsgi(self.moto, create_environ("/moto-api/reset", method="POST"))
            return ok
        return 404, {"error": f"no control endpoint {method} /_local{path}"}

    def _set_state(self, data):
        if "pipelines" in data:
            if not isinstance(data["pipelines"], dict):
                raise ValueError("pipelines must be an object of name -> GetPipelineState response")
            self.state["pipelines"] = data["pipelines"]
        if "alarms" in data:
            if not isinstance(data["alarms"], list):
                raise ValueError("alarms must be a list of MetricAlarm objects")
            self.state["alarms"] = data["alarms"]


# ---------------------------------------------------------------- helpers

def _service_name(name):
    name = str(name or "*").lower()
    return SERVICE_ALIASES.get(name, name)


def _fault(data):
    kind = data["kind"]
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}")
    count = int(data.get("count", 1))
    if count == 0 or count < -1:
        raise ValueError("count must be positive, or -1 for every matching call")
    return {"service": _service_name(data.get("service")), "operation": data.get("operation") or "*",
            "kind": kind, "count": count, "delay_ms": float(data.get("delay_ms", 0))}


def _stub(data):
    if ("response" in data) == ("error" in data):
        raise ValueError("a stub needs exactly one of response and error")
    if "error" in data and "type" not in data["error"]:
        raise ValueError("error needs a type")
    if not isinstance(data.get("match", {}), dict):
        raise ValueError("match must be an object")
    return {"service": _service_name(data.get("service")), "operation": data.get("operation") or "*",
            "match": data.get("match") or {}, "response": data.get("response"), "error": data.get("error")}


def _validation(value, field, constraint):
    shown = "" if value is None else f" '{value}'"
    return ApiError("ValidationException",
                    f"1 validation error detected: Value{shown} at '{field}' failed to satisfy "
                    f"constraint: {constraint}")


def _check_length(value, field, maximum, minimum=1):
    if value is None:
        return
    if not isinstance(value, str) or not minimum <= len(value) <= maximum:
        raise _validation(None, field, f"Member must have length between {minimum} and {maximum}")


def _job_id(req):
    job_id = req.get("jobId")
    if not isinstance(job_id, str) or not UUID.match(job_id):
        raise _validation(job_id, "jobId", "Member must satisfy regular expression pattern: "
                          "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    return job_id


def run_wsgi(app, environ):
    """Run a WSGI app to completion: (status, headers, body)."""
    started = {}
    chunks = []

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(started["status"].split()[0]), list(started["headers"]), b"".join(chunks)


def reset_connection(environ):
    """Drop the client's TCP connection with a RST and no response.

    SO_LINGER {1, 0} makes the close send a RST. The socket's descriptor is
    swapped for one end of a dead socket pair rather than closed, so werkzeug's
    own later reads see EOF and its writes fail quietly instead of touching a
    descriptor number that another thread may have reused.
    """
    sock = environ["werkzeug.socket"]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    left, right = socket.socketpair()
    os.dup2(left.fileno(), sock.fileno())  # closes the connection: RST
    left.close()
    right.close()


class QuietHandler(WSGIRequestHandler):
    """No access log: stderr is for real errors only."""

    def log_request(self, code="-", size="-"):
        pass


def _exit_on_stdin_eof():
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description="Local AWS emulator (moto behind a recording, "
                                                 "fault-injecting front).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-stdin-watch", action="store_true",
                        help="keep running when stdin reaches EOF (manual runs)")
    parser.add_argument("--warm", action="store_true",
                        help="load moto's backends before READY (steadier first-call latency, slower start)")
    args = parser.parse_args()
    ready = sys.stdout
    sys.stdout = sys.stderr  # whatever moto prints must not reach the harness's stdout
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    app = LocalAws()
    if args.warm:
        app.warm_up(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    if not args.no_stdin_watch:
        threading.Thread(target=_exit_on_stdin_eof, daemon=True).start()
    ready.write(f"LOCAL_AWS_READY port={server.server_port}\n")
    ready.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
