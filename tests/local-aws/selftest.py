#!/usr/bin/env python3
"""Self-check of the local AWS emulator: starts a fresh one on a free port and
exercises it with boto3. Exits non-zero when a check fails; skips itself (exit
0) when boto3 is missing."""

import base64
import concurrent.futures
import datetime
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError, HTTPClientError
except ImportError:
    print("selftest skipped: boto3 is not installed")
    sys.exit(0)

HERE = os.path.dirname(os.path.abspath(__file__))
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def start_emulator():
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "local_aws.py"), "--port", "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = proc.stdout.readline().decode()
    assert line.startswith("LOCAL_AWS_READY port="), f"unexpected first line {line!r}"
    return proc, int(line.split("=")[1])


class Emulator:
    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}"
        self.session = boto3.session.Session(aws_access_key_id="AKIDLOCAL", aws_secret_access_key="secret",
                                             region_name="us-east-1")
        self.config = Config(retries={"mode": "standard", "total_max_attempts": 1},
                             s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=10)

    def client(self, name):
        return self.session.client(name, endpoint_url=self.url, config=self.config)

    def cbor_client(self, name, session=None):
        """A client speaking Smithy RPC v2 CBOR, as the Rust SDK does for CloudWatch
        (botocore itself prefers awsJson when a service offers both)."""
        import botocore.model
        saved = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = ("smithy-rpc-v2-cbor",) + saved
        try:
            session = session or boto3.session.Session(aws_access_key_id="AKIDLOCAL",
                                                       aws_secret_access_key="secret", region_name="us-east-1")
            return session.client(name, endpoint_url=self.url, config=self.config)
        finally:
            botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = saved

    def ctl(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_local" + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def calls(self, **filters):
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return self.ctl("GET", "/calls" + ("?" + query if query else ""))[1]

    def fault(self, **fault):
        assert self.ctl("POST", "/faults", fault)[0] == 200


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fetch(url, headers=None):
    """GET a URL: (status, headers, body), errors included."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def push_blob(ecr, repo, data, part_size, **registry):
    """The layer upload a registry client does: initiate, parts, complete."""
    upload = ecr.initiate_layer_upload(repositoryName=repo, **registry)
    for first in range(0, len(data), part_size):
        part = data[first:first + part_size]
        out = ecr.upload_layer_part(repositoryName=repo, uploadId=upload["uploadId"], partFirstByte=first,
                                    partLastByte=first + len(part) - 1, layerPartBlob=part, **registry)
        assert out["lastByteReceived"] == first + len(part) - 1, out
    return ecr.complete_layer_upload(repositoryName=repo, uploadId=upload["uploadId"],
                                     layerDigests=[sha256(data)], **registry)


def expect_error(code, status, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as err:
        got = (err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"expected {(code, status)}, got {got}: {err}"
        return err
    raise AssertionError(f"expected {code}, the call succeeded")


@check
def health(aws):
    assert aws.ctl("GET", "/health") == (200, {"ok": True})


@check
def s3_path_style_round_trip(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="dir/input.zip", Body=b"zip bytes")
    assert s3.get_object(Bucket="artifacts", Key="dir/input.zip")["Body"].read() == b"zip bytes"
    s3.head_object(Bucket="artifacts", Key="dir/input.zip")
    s3.list_objects_v2(Bucket="artifacts")
    ops = [c["operation"] for c in aws.calls(service="s3")]
    assert ops == ["CreateBucket", "PutObject", "GetObject", "HeadObject", "ListObjectsV2"], ops


@check
def ecr_repository_and_request_log(aws):
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="app")
    assert ecr.describe_repositories()["repositories"][0]["repositoryName"] == "app"
    call = aws.calls(service="ecr", operation="CreateRepository")[-1]
    assert call["request"]["repositoryName"] == "app" and call["status"] == 200, call
    assert call["end_ms"] >= call["start_ms"] and call["fault"] is None


@check
def throttle_in_each_protocol(aws):
    aws.fault(service="ecr", operation="DescribeRepositories", kind="throttle")
    expect_error("ThrottlingException", 400, aws.client("ecr").describe_repositories)
    aws.client("ecr").describe_repositories()  # the fault was used up
    aws.fault(service="s3", operation="GetObject", kind="throttle")
    expect_error("SlowDown", 503, aws.client("s3").get_object, Bucket="artifacts", Key="dir/input.zip")
    aws.fault(service="elbv2", operation="DescribeLoadBalancers", kind="throttle")
    expect_error("Throttling", 400, aws.client("elbv2").describe_load_balancers)
    aws.fault(service="cloudwatch", operation="DescribeAlarms", kind="throttle")
    expect_error("ThrottlingException", 400, aws.cbor_client("cloudwatch").describe_alarms)
    faulted = [c for c in aws.calls() if c["fault"] == "throttle"]
    assert [c["operation"] for c in faulted] == ["DescribeRepositories", "GetObject",
                                                 "DescribeLoadBalancers", "DescribeAlarms"], faulted
    assert aws.ctl("GET", "/faults")[1] == []


@check
def error_fault_and_every_call_count(aws):
    aws.fault(service="ecs", operation="*", kind="error", count=-1)
    for _ in range(2):
        expect_error("InternalFailure", 500, aws.client("ecs").list_clusters)
    aws.ctl("DELETE", "/faults")
    aws.client("ecs").list_clusters()


@check
def deny_fault_in_each_protocol(aws):
    aws.fault(service="ecr", operation="DescribeRepositories", kind="deny")
    expect_error("AccessDeniedException", 400, aws.client("ecr").describe_repositories)
    aws.fault(service="s3", operation="GetObject", kind="deny")
    expect_error("AccessDenied", 403, aws.client("s3").get_object, Bucket="artifacts", Key="dir/input.zip")
    aws.fault(service="elbv2", operation="DescribeLoadBalancers", kind="deny")
    expect_error("AccessDenied", 403, aws.client("elbv2").describe_load_balancers)


@check
def reset_fault_drops_connection(aws):
    aws.fault(service="s3", operation="HeadBucket", kind="reset", count=2)
    try:
        aws.client("s3").head_bucket(Bucket="artifacts")
        raise AssertionError("head_bucket succeeded through a reset")
    except HTTPClientError:
        pass
    # A raw socket sees the reset itself.
    with socket.create_connection(("127.0.0.1", int(aws.url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(b"HEAD /artifacts HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 "
                     b"Credential=AK/20250101/us-east-1/s3/aws4_request, Signature=x\r\n\r\n")
        try:
            data = sock.recv(1024)
            raise AssertionError(f"expected a connection reset, got {data!r}")
        except ConnectionResetError:
            pass
    aws.client("s3").head_bucket(Bucket="artifacts")  # still serving
    resets = [c for c in aws.calls(operation="HeadBucket") if c["fault"] == "reset"]
    assert len(resets) == 2 and resets[0]["status"] == 0, resets


@check
def cut_fault_breaks_off_the_body(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="cut")
    data = os.urandom(100_000)
    s3.put_object(Bucket="cut", Key="a.zip", Body=data)
    aws.fault(service="s3", operation="GetObject", kind="cut")
    body = s3.get_object(Bucket="cut", Key="a.zip")["Body"]  # the headers arrive whole
    try:
        got = body.read()
    except Exception:  # botocore's ResponseStreamingError or urllib3's ProtocolError
        got = None
    assert got is None, f"read {len(got)} of {len(data)} bytes through a cut"
    assert s3.get_object(Bucket="cut", Key="a.zip")["Body"].read() == data  # once only
    cuts = [c for c in aws.calls(operation="GetObject") if c["fault"] == "cut"]
    assert len(cuts) == 1 and cuts[0]["status"] == 200, cuts


@check
def delay_fault_and_concurrency(aws):
    aws.fault(service="sts", operation="GetCallerIdentity", kind="delay", delay_ms=400, count=2)
    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: aws.client("sts").get_caller_identity(), range(2)))
    elapsed = time.monotonic() - began
    delayed = [c for c in aws.calls(operation="GetCallerIdentity") if c["fault"] == "delay"]
    assert len(delayed) == 2 and all(c["end_ms"] - c["start_ms"] >= 400 for c in delayed), delayed
    assert elapsed >= 0.4
    # Served concurrently: the two calls overlap in time.
    assert max(c["start_ms"] for c in delayed) < min(c["end_ms"] for c in delayed), delayed


@check
def rendezvous_holds_calls_until_all_have_arrived(aws):
    aws.ctl("POST", "/rendezvous", {"service": "sts", "operation": "GetCallerIdentity", "count": 2})
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(lambda: aws.client("sts").get_caller_identity())
        # The first call is held: it cannot end before the second has arrived.
        assert not concurrent.futures.wait([first], timeout=0.3).done, "served before the meeting"
        second = pool.submit(lambda: aws.client("sts").get_caller_identity())
        first.result(timeout=5), second.result(timeout=5)
    _, met = aws.ctl("GET", "/rendezvous")
    assert [(r["arrived"], r["missed"]) for r in met] == [(2, False)], met
    # Met once: later calls pass at once.
    aws.client("sts").get_caller_identity()
    held = aws.calls(operation="GetCallerIdentity")[-3:]
    assert max(c["start_ms"] for c in held[:2]) < min(c["end_ms"] for c in held[:2]), held


@check
def added_latency(aws):
    sts = aws.client("sts")
    sts.get_caller_identity()
    aws.ctl("POST", "/latency", {"ms": 100})
    began = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - began >= 0.1
    aws.ctl("POST", "/latency", {"ms": 0})


@check
def job_results(aws):
    cp = aws.client("codepipeline")
    job = str(uuid.uuid4())
    cp.put_job_success_result(jobId=job, executionDetails={"summary": "deployed", "percentComplete": 100},
                              outputVariables={"IMAGE": "repo@sha256:abc"})
    err = expect_error("InvalidJobStateException", 400, cp.put_job_failure_result, jobId=job,
                       failureDetails={"type": "JobFailed", "message": "again"})
    assert job in str(err)
    status, entry = aws.ctl("GET", f"/jobs/{job}")
    assert status == 200 and entry["status"] == "Succeeded" and entry["reports"] == 1, entry
    assert entry["request"]["outputVariables"] == {"IMAGE": "repo@sha256:abc"}
    assert aws.ctl("GET", f"/jobs/{uuid.uuid4()}")[0] == 404
    continued = str(uuid.uuid4())
    cp.put_job_success_result(jobId=continued, continuationToken="poll-2")
    assert aws.ctl("GET", "/jobs")[1][continued]["status"] == "Continued"
    failed = str(uuid.uuid4())
    cp.put_job_failure_result(jobId=failed, failureDetails={"type": "ConfigurationError", "message": "no"})
    assert aws.ctl("GET", "/jobs")[1][failed]["status"] == "Failed"
    expect_error("ValidationException", 400, cp.put_job_success_result, jobId="not-a-uuid")
    expect_error("ValidationException", 400, cp.put_job_success_result, jobId=str(uuid.uuid4()),
                 continuationToken="t", outputVariables={"A": "b"})
    expect_error("ValidationException", 400, cp.put_job_success_result, jobId=str(uuid.uuid4()),
                 executionDetails={"summary": "x" * 2049})
    expect_error("ValidationException", 400, cp.put_job_failure_result, jobId=str(uuid.uuid4()),
                 failureDetails={"type": "Oops", "message": "m"})
    expect_error("OutputVariablesSizeExceededException", 400, cp.put_job_success_result,
                 jobId=str(uuid.uuid4()), outputVariables={f"K{i}": "v" * 1000 for i in range(130)})


@check
def pipeline_state_and_transitions(aws):
    cp = aws.client("codepipeline")
    stages = [{"stageName": "Source"}, {"stageName": "Deploy"}]
    aws.ctl("POST", "/state", {"pipelines": {"web": {"pipelineName": "web", "stageStates": stages}}})
    assert [s["stageName"] for s in cp.get_pipeline_state(name="web")["stageStates"]] == ["Source", "Deploy"]
    expect_error("PipelineNotFoundException", 400, cp.get_pipeline_state, name="nope")
    cp.disable_stage_transition(pipelineName="web", stageName="Deploy", transitionType="Inbound",
                                reason="alarm fired")
    deploy = cp.get_pipeline_state(name="web")["stageStates"][1]["inboundTransitionState"]
    assert deploy["enabled"] is False and deploy["disabledReason"] == "alarm fired", deploy
    cp.enable_stage_transition(pipelineName="web", stageName="Source", transitionType="Outbound")
    assert cp.get_pipeline_state(name="web")["stageStates"][1]["inboundTransitionState"]["enabled"] is True
    execution = cp.rollback_stage(pipelineName="web", stageName="Deploy",
                                  targetPipelineExecutionId=str(uuid.uuid4()))["pipelineExecutionId"]
    assert len(execution) == 36


@check
def codedeploy_hooks(aws):
    cd = aws.client("codedeploy")
    out = cd.put_lifecycle_event_hook_execution_status(deploymentId="d-1", lifecycleEventHookExecutionId="h-1",
                                                       status="Succeeded")
    assert out["lifecycleEventHookExecutionId"] == "h-1"
    expect_error("LifecycleEventAlreadyCompletedException", 400,
                 lambda: cd.put_lifecycle_event_hook_execution_status(
                     deploymentId="d-1", lifecycleEventHookExecutionId="h-1", status="Failed"))
    status, hooks = aws.ctl("GET", "/hooks")
    hook = hooks["d-1/h-1"]
    assert status == 200 and hook["status"] == "Succeeded" and hook["rejected"] == 1, hook
    assert cd.stop_deployment(deploymentId="d-1")["status"] == "Pending"


@check
def stubs(aws):
    ecr = aws.client("ecr")
    findings = {"repositoryName": "app", "imageScanStatus": {"status": "COMPLETE"},
                "imageScanFindings": {"findingSeverityCounts": {"HIGH": 2}}}
    aws.ctl("POST", "/stubs", {"service": "ecr", "operation": "DescribeImageScanFindings",
                               "match": {"repositoryName": "app", "imageId": {"imageTag": "v1"}},
                               "response": findings})
    aws.ctl("POST", "/stubs", {"service": "ecr", "operation": "DescribeImageScanFindings",
                               "match": {"imageId": {"imageTag": "v2"}},
                               "error": {"type": "ScanNotFoundException", "message": "no scan"}})
    out = ecr.describe_image_scan_findings(repositoryName="app", imageId={"imageTag": "v1"})
    assert out["imageScanFindings"]["findingSeverityCounts"] == {"HIGH": 2}, out
    expect_error("ScanNotFoundException", 400, ecr.describe_image_scan_findings, repositoryName="app",
                 imageId={"imageTag": "v2"})
    aws.ctl("POST", "/stubs", {"service": "ecr", "operation": "DescribeImageScanFindings",
                               "error": {"type": "ScanNotFoundException", "message": "newest wins"}})
    err = expect_error("ScanNotFoundException", 400, ecr.describe_image_scan_findings, repositoryName="app",
                       imageId={"imageTag": "v1"})
    assert "newest wins" in str(err)
    # awsQuery: a JSON response is rendered as the service's XML.
    aws.ctl("POST", "/stubs", {"service": "elbv2", "operation": "DescribeTargetHealth", "response": {
        "TargetHealthDescriptions": [{"Target": {"Id": "10.0.0.1", "Port": 80},
                                      "TargetHealth": {"State": "unhealthy", "Reason": "Target.Timeout"}}]}})
    health = aws.client("elbv2").describe_target_health(TargetGroupArn="arn:tg")["TargetHealthDescriptions"]
    assert health[0]["TargetHealth"]["State"] == "unhealthy" and health[0]["Target"]["Port"] == 80, health
    aws.ctl("DELETE", "/stubs")
    assert aws.ctl("GET", "/stubs")[1] == []


@check
def cloudwatch_over_cbor(aws):
    cw = aws.cbor_client("cloudwatch")
    alarm = {"AlarmName": "web-5xx", "StateValue": "ALARM", "Threshold": 5, "EvaluationPeriods": 1,
             "StateUpdatedTimestamp": "2025-01-02T03:04:05Z", "AlarmDescription": None}
    aws.ctl("POST", "/state", {"alarms": [alarm, {"AlarmName": "web-latency", "StateValue": "OK"}]})
    alarms = cw.describe_alarms(AlarmNames=["web-5xx"])["MetricAlarms"]
    assert len(alarms) == 1 and alarms[0]["Threshold"] == 5.0, alarms
    assert alarms[0]["StateUpdatedTimestamp"].timestamp() == 1735787045.0, alarms
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix="web-", StateValue="OK")["MetricAlarms"]] \
        == ["web-latency"]
    call = aws.calls(operation="DescribeAlarms")[-1]
    assert call["service"] == "monitoring" and call["request"]["AlarmNamePrefix"] == "web-", call
    # On the wire: the protocol header, CBOR, a timestamp as tag 1 with a double, a double Threshold.
    req = urllib.request.Request(aws.url + "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
                                 data=b"\xa0", method="POST", headers={
                                     "smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read()
        assert resp.headers["smithy-protocol"] == "rpc-v2-cbor", resp.headers
        assert resp.headers["Content-Type"] == "application/cbor", resp.headers
    assert b"\xc1\xfb" in body and b"Threshold\xfb" in body, body
    expect_error("UnknownOperationException", 400, cw.list_metrics)
    aws.ctl("POST", "/stubs", {"service": "cloudwatch", "operation": "ListMetrics",
                               "response": {"Metrics": [{"MetricName": "5xx", "Namespace": "AWS/ELB"}]}})
    assert cw.list_metrics()["Metrics"][0]["MetricName"] == "5xx"
    # boto3's own choice for CloudWatch is awsJson: the built-in answers that too.
    assert aws.client("cloudwatch").describe_alarms(AlarmNames=["web-latency"])["MetricAlarms"][0][
        "StateValue"] == "OK"


@check
def ecs_service_deployments(aws):
    ecs = aws.client("ecs")
    td = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:"
    aws.ctl("POST", "/deployments", {"ecsServices": [{"cluster": "prod", "service": "web", "deployments": [
        {"id": "d1", "status": "SUCCESSFUL", "createdAt": 1000, "taskDefinition": td + "1"},
        {"id": "d2", "status": "IN_PROGRESS", "createdAt": 2000, "taskDefinition": td + "2"}]}]})
    listed = ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    assert [d["status"] for d in listed] == ["IN_PROGRESS", "SUCCESSFUL"], listed
    assert ecs.list_service_deployments(cluster="prod", service="web", status=["SUCCESSFUL"],
                                        maxResults=1)["serviceDeployments"][0]["serviceDeploymentArn"] \
        .endswith("/prod/web/d1")
    revs = ecs.describe_service_revisions(serviceRevisionArns=[listed[0]["targetServiceRevisionArn"], "arn:x"])
    assert revs["serviceRevisions"][0]["taskDefinition"] == td + "2" and revs["failures"][0]["arn"] == "arn:x"
    arn = listed[0]["serviceDeploymentArn"]
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")  # continues: safe to repeat
    full = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert full["status"] == "ROLLBACK_REQUESTED" and full["rollback"]["serviceRevisionArn"].endswith("/d1"), full
    expect_error("ConflictException", 400, ecs.stop_service_deployment,
                 serviceDeploymentArn=listed[1]["serviceDeploymentArn"], stopType="ROLLBACK")
    expect_error("ServiceDeploymentNotFoundException", 400, ecs.stop_service_deployment,
                 serviceDeploymentArn="arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/nope")
    # UpdateService of a seeded service starts a deployment of the new task definition.
    out = ecs.update_service(cluster="prod", service="web", taskDefinition=td + "1")
    assert out["service"]["taskDefinition"] == td + "1", out
    newest = ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"][0]
    assert newest["status"] == "IN_PROGRESS" and newest["serviceDeploymentArn"] != arn, newest
    aws.ctl("POST", "/deployments", {"ecsStatus": {newest["serviceDeploymentArn"]: "SUCCESSFUL"}})
    assert ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"][0]["status"] \
        == "SUCCESSFUL"


@check
def codedeploy_deployment_history(aws):
    cd = aws.client("codedeploy")
    rev = lambda n: {"revisionType": "S3", "s3Location": {"bucket": "b", "key": f"app-{n}.zip",  # noqa: E731
                                                          "bundleType": "zip"}}
    aws.ctl("POST", "/deployments", {"codedeployGroups": [{"application": "web", "group": "prod", "deployments": [
        {"id": "d-1", "status": "Succeeded", "createTime": 1000, "revision": rev(1)},
        {"id": "d-2", "status": "InProgress", "createTime": 2000, "revision": rev(2)}]}]})
    group = cd.get_deployment_group(applicationName="web", deploymentGroupName="prod")["deploymentGroupInfo"]
    assert group["lastAttemptedDeployment"]["deploymentId"] == "d-2", group
    assert group["lastSuccessfulDeployment"]["deploymentId"] == "d-1", group
    info = cd.get_deployment(deploymentId="d-2")["deploymentInfo"]
    assert info["previousRevision"]["s3Location"]["key"] == "app-1.zip", info
    expect_error("DeploymentLimitExceededException", 400, cd.create_deployment, applicationName="web",
                 deploymentGroupName="prod", revision=rev(3))
    cd.stop_deployment(deploymentId="d-2", autoRollbackEnabled=True)
    stopped = cd.get_deployment(deploymentId="d-2")["deploymentInfo"]
    rollback_id = stopped["rollbackInfo"]["rollbackDeploymentId"]
    rollback = cd.get_deployment(deploymentId=rollback_id)["deploymentInfo"]
    assert stopped["status"] == "Stopped" and rollback["creator"] == "codeDeployRollback", rollback
    assert rollback["revision"]["s3Location"]["key"] == "app-1.zip"
    expect_error("DeploymentAlreadyCompletedException", 400, cd.stop_deployment, deploymentId="d-2")
    aws.ctl("POST", "/deployments", {"codedeployStatus": {rollback_id: "Succeeded"}})
    new_id = cd.create_deployment(applicationName="web", deploymentGroupName="prod", revision=rev(3),
                                  description="again")["deploymentId"]
    assert cd.get_deployment(deploymentId=new_id)["deploymentInfo"]["description"] == "again"


@check
def pipeline_executions_and_stage_rollback(aws):
    cp = aws.client("codepipeline")
    ids = [str(uuid.uuid4()) for _ in range(3)]
    stages = [{"stageName": "Deploy", "latestExecution": {"pipelineExecutionId": ids[2], "status": "InProgress"}}]
    aws.ctl("POST", "/state", {"pipelines": {"app": {"pipelineName": "app", "stageStates": stages}}})
    aws.ctl("POST", "/deployments", {"pipelineExecutions": {"app": [
        {"pipelineExecutionId": ids[0], "status": "Succeeded", "startTime": 1000, "executionType": "STANDARD",
         "succeededInStages": ["Deploy"]},
        {"pipelineExecutionId": ids[1], "status": "Failed", "startTime": 2000, "executionType": "STANDARD"},
        {"pipelineExecutionId": ids[2], "status": "InProgress", "startTime": 3000, "executionType": "STANDARD"}]}})
    listed = cp.list_pipeline_executions(pipelineName="app")["pipelineExecutionSummaries"]
    assert [e["pipelineExecutionId"] for e in listed] == ids[::-1] and "succeededInStages" not in listed[0]
    ok = cp.list_pipeline_executions(pipelineName="app", filter={"succeededInStage": {"stageName": "Deploy"}})
    assert [e["pipelineExecutionId"] for e in ok["pipelineExecutionSummaries"]] == ids[:1], ok
    expect_error("UnableToRollbackStageException", 400, cp.rollback_stage, pipelineName="app",
                 stageName="Deploy", targetPipelineExecutionId=ids[0])
    stages[0]["latestExecution"]["status"] = "Failed"
    aws.ctl("POST", "/state", {"pipelines": {"app": {"pipelineName": "app", "stageStates": stages}}})
    expect_error("UnableToRollbackStageException", 400, cp.rollback_stage, pipelineName="app",
                 stageName="Deploy", targetPipelineExecutionId=ids[1])
    expect_error("StageNotFoundException", 400, cp.rollback_stage, pipelineName="app",
                 stageName="Prod", targetPipelineExecutionId=ids[0])
    new_id = cp.rollback_stage(pipelineName="app", stageName="Deploy",
                               targetPipelineExecutionId=ids[0])["pipelineExecutionId"]
    latest = cp.get_pipeline_state(name="app")["stageStates"][0]["latestExecution"]
    assert latest == {"pipelineExecutionId": new_id, "status": "InProgress", "type": "ROLLBACK"}, latest
    first = cp.list_pipeline_executions(pipelineName="app")["pipelineExecutionSummaries"][0]
    assert first["executionType"] == "ROLLBACK" and \
        first["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == ids[0], first
    expect_error("ConflictException", 400, cp.rollback_stage, pipelineName="app",
                 stageName="Deploy", targetPipelineExecutionId=ids[0])


@check
def alarm_tags_over_cbor(aws):
    cw = aws.cbor_client("cloudwatch")
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-5xx"
    aws.ctl("POST", "/deployments", {"alarmTags": {arn: {"rollback:ecs-service": "prod/web"}}})
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "rollback:ecs-service", "Value": "prod/web"}]
    expect_error("ResourceNotFoundException", 400, cw.list_tags_for_resource, ResourceARN=arn + "-x")

# ---- deployment health (the health gate's scripted timelines)

@check
def gate_ecs_service_deployments_follow_a_timeline(aws):
    ecs = aws.client("ecs")
    arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/d2"
    base = {"serviceDeploymentArn": arn, "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod", "createdAt": 1767000000}
    old = dict(base, serviceDeploymentArn=arn[:-1] + "1", createdAt=1766000000, timeline=[{"status": "SUCCESSFUL"}])
    revision = {"arn": "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/2", "requestedTaskCount": 2}
    timeline = [
        {"status": "IN_PROGRESS", "targetServiceRevision": dict(revision, runningTaskCount=0), "calls": 2},
        {"status": "ROLLBACK_IN_PROGRESS", "statusReason": "circuit breaker",
         "deploymentCircuitBreaker": {"status": "TRIGGERED", "failureCount": 3, "threshold": 3}},
    ]
    aws.ctl("POST", "/state", {"serviceDeployments": [old, dict(base, timeline=timeline)]})
    listed = ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    assert [d["serviceDeploymentArn"] for d in listed] == [arn, old["serviceDeploymentArn"]], listed
    seen = [ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
            for _ in range(4)]
    assert [d["status"] for d in seen] == ["IN_PROGRESS", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS",
                                           "ROLLBACK_IN_PROGRESS"], seen
    assert seen[2]["deploymentCircuitBreaker"]["failureCount"] == 3, seen[2]
    missing = ecs.describe_service_deployments(serviceDeploymentArns=[arn + "x"])
    assert missing["failures"][0]["reason"] == "MISSING", missing
    green = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/1"
    aws.ctl("POST", "/state", {"serviceRevisions": {revision["arn"]: {
        "loadBalancers": [{"targetGroupArn": green.replace("green", "blue")}],
        "resolvedConfiguration": {"loadBalancers": [{"targetGroupArn": green}]}}}})
    out = ecs.describe_service_revisions(serviceRevisionArns=[revision["arn"], revision["arn"] + "9"])
    assert out["serviceRevisions"][0]["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"] == green, out
    assert out["failures"][0]["reason"] == "MISSING", out


@check
def gate_target_health_scripted_states_and_reasons(aws):
    elb = aws.client("elbv2")
    tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/1"
    frames = [{"targets": [{"id": "10.0.0.1", "port": 8080, "state": "initial", "reason": "Elb.InitialHealthChecking"}]},
              {"targets": [{"id": "10.0.0.1", "port": 8080, "state": "unhealthy", "reason": "Target.Timeout",
                            "description": "Request timed out"}]}]
    aws.ctl("POST", "/state", {"targetHealth": {tg: frames}})
    states = [elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0] for _ in range(3)]
    assert [(d["TargetHealth"]["State"], d["TargetHealth"].get("Reason")) for d in states] == [
        ("initial", "Elb.InitialHealthChecking"), ("unhealthy", "Target.Timeout"), ("unhealthy", "Target.Timeout")]
    assert states[0]["Target"]["Port"] == 8080, states


@check
def gate_metric_data_over_cbor(aws):
    cw = aws.cbor_client("cloudwatch")
    aws.ctl("POST", "/state", {"metricData": {"p99": [[60, 0.18], [120, 0.2], [3600, 9]], "broken": {"error": "bad"}}})
    now = time.time()
    stat = {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime"}, "Period": 60,
            "Stat": "p99"}
    out = cw.get_metric_data(StartTime=now - 600, EndTime=now, MetricDataQueries=[
        {"Id": "p99", "MetricStat": stat}, {"Id": "none", "MetricStat": stat}, {"Id": "broken", "Expression": "x"}])
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert results["p99"]["Values"] == [0.18, 0.2], results  # the 1-hour-old point is outside the window
    assert abs(results["p99"]["Timestamps"][0].timestamp() - (now - 60)) < 5, results
    assert results["none"]["Values"] == [] and results["none"]["StatusCode"] == "Complete", results
    assert results["broken"]["StatusCode"] == "InternalError", results


@check
def gate_codedeploy_deployment_and_targets_with_diagnostics(aws):
    cd = aws.client("codedeploy")
    failed = {"status": "Failed", "lifecycleEvents": [
        {"lifecycleEventName": "ValidateService", "status": "Failed", "diagnostics": {
            "errorCode": "ScriptFailed", "scriptName": "scripts/validate.sh", "message": "exit code 1",
            "logTail": "[stderr]curl: (7) Failed to connect"}}]}
    aws.ctl("POST", "/state", {"codedeployDeployments": {"d-GATE1": {
        "applicationName": "web", "deploymentGroupName": "prod", "createTime": 1767000000,
        "timeline": [{"status": "InProgress", "deploymentOverview": {"InProgress": 2}},
                     {"status": "Failed", "errorInformation": {"code": "HEALTH_CONSTRAINTS", "message": "failed"},
                      "targets": {"i-1": failed, "i-2": {"status": "Succeeded", "lifecycleEvents": []}}}],
        "targets": {"i-1": {"status": "InProgress"}, "i-2": {"status": "InProgress"}}}}})
    assert cd.list_deployments(applicationName="web", deploymentGroupName="prod")["deployments"] == ["d-GATE1"]
    assert cd.get_deployment(deploymentId="d-GATE1")["deploymentInfo"]["status"] == "InProgress"
    assert cd.list_deployment_targets(deploymentId="d-GATE1", targetFilters={"TargetStatus": ["Failed"]})[
        "targetIds"] == []
    info = cd.get_deployment(deploymentId="d-GATE1")["deploymentInfo"]
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS", info
    ids = cd.list_deployment_targets(deploymentId="d-GATE1", targetFilters={"TargetStatus": ["Failed"]})["targetIds"]
    assert ids == ["i-1"], ids
    target = cd.batch_get_deployment_targets(deploymentId="d-GATE1", targetIds=ids)["deploymentTargets"][0]
    diag = target["instanceTarget"]["lifecycleEvents"][0]["diagnostics"]
    assert diag["scriptName"] == "scripts/validate.sh" and "curl" in diag["logTail"], target
    expect_error("DeploymentDoesNotExistException", 400, cd.list_deployment_targets, deploymentId="d-NONE")


@check
def gate_codedeploy_ecs_green_target_group(aws):
    cd, elb = aws.client("codedeploy"), aws.client("elbv2")
    green = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg-2/2"
    task_sets = [{"taskSetLabel": "Blue", "targetGroup": {"name": "web-tg-1"}, "trafficWeight": 100.0},
                 {"taskSetLabel": "Green", "targetGroup": {"name": "web-tg-2"}, "trafficWeight": 0.0}]
    aws.ctl("POST", "/state", {
        "codedeployDeployments": {"d-ECSBG": {"applicationName": "web", "deploymentGroupName": "bg",
                                              "computePlatform": "ECS", "timeline": [{"status": "InProgress"}],
                                              "targets": {"prod:web": {"status": "InProgress",
                                                                       "taskSetsInfo": task_sets}}}},
        "deploymentGroups": {"web/bg": {"computePlatform": "ECS", "loadBalancerInfo": {"targetGroupPairInfoList": [
            {"targetGroups": [{"name": "web-tg-1"}, {"name": "web-tg-2"}]}]}}},
        "targetHealth": {green: [{"targets": [{"id": "10.0.0.9", "state": "healthy"}]}]}})
    ids = cd.list_deployment_targets(deploymentId="d-ECSBG")["targetIds"]
    target = cd.batch_get_deployment_targets(deploymentId="d-ECSBG", targetIds=ids)["deploymentTargets"][0]
    assert target["deploymentTargetType"] == "ECSTarget", target
    labels = {t["taskSetLabel"]: t["targetGroup"]["name"] for t in target["ecsTarget"]["taskSetsInfo"]}
    assert labels == {"Blue": "web-tg-1", "Green": "web-tg-2"}, target
    group = cd.get_deployment_group(applicationName="web", deploymentGroupName="bg")["deploymentGroupInfo"]
    pair = group["loadBalancerInfo"]["targetGroupPairInfoList"][0]["targetGroups"]
    assert [g["name"] for g in pair] == ["web-tg-1", "web-tg-2"], group
    found = elb.describe_target_groups(Names=["web-tg-2"])["TargetGroups"]
    assert [(g["TargetGroupName"], g["TargetGroupArn"]) for g in found] == [("web-tg-2", green)], found
    expect_error("TargetGroupNotFound", 400, elb.describe_target_groups, Names=["nowhere"])


@check
def rehearsal_codedeploy_ecs_hooks_shift_traffic_or_roll_back(aws):
    ecs, cd = aws.client("ecs"), aws.client("codedeploy")
    ecs.create_cluster(clusterName="rh")
    arns = [ecs.register_task_definition(family="rh", containerDefinitions=[
        {"name": "app", "image": f"web:{v}", "memory": 128}])["taskDefinition"]["taskDefinitionArn"] for v in (1, 2)]
    ecs.create_service(cluster="rh", serviceName="web", taskDefinition=arns[0], desiredCount=1)
    content = lambda arn: f"version: 0.0\nResources:\n  - TargetService:\n      Properties:\n        TaskDefinition: {arn}\n"
    revision = lambda arn: {"revisionType": "AppSpecContent", "appSpecContent": {"content": content(arn)}}
    tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rh-green/1"
    assert aws.ctl("POST", "/rehearsal/world", {"codedeployGroups": [
        {"application": "rh", "group": "web", "cluster": "rh", "service": "web", "targetGroups": [tg],
         "alarm": "rh-5xx", "initialRevision": revision(arns[0])}],
        "alarms": [{"name": "rh-5xx", "tags": {"rollback:codedeploy": "rh/web"}}]})[0] == 200
    # A good release with an alarm after the shift: the hook passes, traffic shifts, the alarm fires.
    aws.ctl("POST", "/rehearsal/script", {"alarmAfterShift": True})
    started = aws.ctl("POST", "/rehearsal/codedeploy", {"application": "rh", "group": "web", "revision": revision(arns[1]),
                                                        "hooks": [{"event": "AfterAllowTestTraffic", "function": "gate"}]})[1]
    view = aws.ctl("GET", f"/rehearsal/codedeploy/{started['deploymentId']}")[1]
    assert view["status"] == "InProgress" and view["hook"]["event"] == "AfterAllowTestTraffic", view
    cd.put_lifecycle_event_hook_execution_status(deploymentId=started["deploymentId"],
                                                 lifecycleEventHookExecutionId=view["hook"]["executionId"], status="Succeeded")
    view = aws.ctl("POST", f"/rehearsal/codedeploy/{started['deploymentId']}/hook-done")[1]
    assert view["status"] == "Succeeded" and "hook" not in view, view
    assert ecs.describe_services(cluster="rh", services=["web"])["services"][0]["taskDefinition"] == arns[1]
    events = aws.ctl("GET", "/rehearsal/events")[1]
    assert [(e["alarmName"], e["state"], e["tags"]) for e in events] == [("rh-5xx", "ALARM", {"rollback:codedeploy": "rh/web"})]
    assert cd.list_deployments(applicationName="rh", deploymentGroupName="web")["deployments"][0] == started["deploymentId"]
    # A bad release: the green targets fail their health checks and the hook fails: rolled back.
    aws.ctl("POST", "/rehearsal/script", {"targets": "unhealthy"})
    started = aws.ctl("POST", "/rehearsal/codedeploy", {"application": "rh", "group": "web", "revision": revision(arns[0]),
                                                        "hooks": [{"event": "AfterAllowTestTraffic", "function": "gate"}]})[1]
    health = aws.client("elbv2").describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert {h["TargetHealth"]["State"] for h in health} == {"unhealthy"}, health
    view = aws.ctl("POST", f"/rehearsal/codedeploy/{started['deploymentId']}/hook-done")[1]
    assert view["status"] == "Failed" and view["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE", view
    rollback = view["rollbackInfo"]["rollbackDeploymentId"]
    time.sleep(0.6)
    assert cd.get_deployment(deploymentId=rollback)["deploymentInfo"]["status"] == "Succeeded"


@check
def rehearsal_codedeploy_ec2_instance_fails_validate_service(aws):
    cd = aws.client("codedeploy")
    bundle = lambda key: {"revisionType": "S3", "s3Location": {"bucket": "rev", "key": key, "bundleType": "zip"}}
    aws.ctl("POST", "/rehearsal/world", {"codedeployGroups": [
        {"application": "rh-ec2", "group": "prod", "platform": "Server", "instances": ["i-1", "i-2"],
         "initialRevision": bundle("v1.zip")}]})
    aws.ctl("POST", "/rehearsal/script", {"failInstance": "i-1"})
    d = aws.ctl("POST", "/rehearsal/codedeploy", {"application": "rh-ec2", "group": "prod", "revision": bundle("v2.zip")})[1]
    time.sleep(1.0)
    info = cd.get_deployment(deploymentId=d["deploymentId"])["deploymentInfo"]
    assert info["status"] == "InProgress" and info["deploymentOverview"]["Failed"] == 1, info
    ids = cd.list_deployment_targets(deploymentId=d["deploymentId"], targetFilters={"TargetStatus": ["Failed"]})["targetIds"]
    assert ids == ["i-1"], ids
    target = cd.batch_get_deployment_targets(deploymentId=d["deploymentId"], targetIds=ids)["deploymentTargets"][0]
    assert target["instanceTarget"]["lifecycleEvents"][-1]["diagnostics"]["scriptName"] == "scripts/validate_service.sh"
    cd.stop_deployment(deploymentId=d["deploymentId"], autoRollbackEnabled=True)
    info = cd.get_deployment(deploymentId=d["deploymentId"])["deploymentInfo"]
    assert info["status"] == "Stopped", info
    time.sleep(0.6)
    rollback = cd.get_deployment(deploymentId=info["rollbackInfo"]["rollbackDeploymentId"])["deploymentInfo"]
    assert rollback["status"] == "Succeeded" and rollback["revision"]["s3Location"]["key"] == "v1.zip", rollback


@check
def rehearsal_codedeploy_ec2_instances_as_their_agent_reports(aws):
    cd = aws.client("codedeploy")
    bundle = lambda key: {"revisionType": "S3", "s3Location": {"bucket": "rev", "key": key, "bundleType": "zip"}}
    aws.ctl("POST", "/rehearsal/world", {"codedeployGroups": [
        {"application": "rh-agent", "group": "prod", "platform": "Server", "instances": ["i-1", "i-2"],
         "initialRevision": bundle("v1.zip"), "agent": True}]})
    aws.ctl("POST", "/rehearsal/script", {})
    report = lambda d, instance, status: aws.ctl("POST", f"/rehearsal/codedeploy/{d}/instance", {
        "instance": instance, "status": status,
        "lifecycleEvents": [{"lifecycleEventName": "ValidateService", "status": status}]})
    d = aws.ctl("POST", "/rehearsal/codedeploy", {"application": "rh-agent", "group": "prod",
                                                   "revision": bundle("v2.zip")})[1]["deploymentId"]
    time.sleep(0.5)
    view = aws.ctl("GET", f"/rehearsal/codedeploy/{d}")[1]
    assert view["status"] == "InProgress" and view["instances"] == {}, view  # nothing moves on by time
    assert report(d, "i-3", "Succeeded")[0] == 400
    view = report(d, "i-1", "Succeeded")[1]
    assert view["status"] == "InProgress" and view["instances"]["i-1"]["status"] == "Succeeded", view
    view = report(d, "i-2", "Succeeded")[1]
    assert view["status"] == "Succeeded", view
    assert cd.get_deployment(deploymentId=d)["deploymentInfo"]["deploymentOverview"]["Succeeded"] == 2
    # A failed instance fails the next deployment; the rollback waits for the agent too.
    bad = aws.ctl("POST", "/rehearsal/codedeploy", {"application": "rh-agent", "group": "prod",
                                                     "revision": bundle("v3.zip")})[1]["deploymentId"]
    report(bad, "i-1", "InProgress")
    ids = cd.list_deployment_targets(deploymentId=bad)["targetIds"]
    assert ids == ["i-1"], ids
    view = report(bad, "i-1", "Failed")[1]
    assert view["status"] == "Failed" and view["errorInformation"]["code"] == "HEALTH_CONSTRAINTS", view
    rollback = view["rollbackInfo"]["rollbackDeploymentId"]
    assert report(bad, "i-2", "Succeeded")[1]["status"] == "Failed"  # an ended deployment stays so
    time.sleep(0.6)
    info = cd.get_deployment(deploymentId=rollback)["deploymentInfo"]
    assert info["status"] == "InProgress" and info["revision"]["s3Location"]["key"] == "v2.zip", info
    report(rollback, "i-1", "Succeeded")
    assert report(rollback, "i-2", "Succeeded")[1]["status"] == "Succeeded"
    group = cd.get_deployment_group(applicationName="rh-agent", deploymentGroupName="prod")["deploymentGroupInfo"]
    assert group["lastSuccessfulDeployment"]["deploymentId"] == rollback, group
    # A group without an agent refuses reports.
    aws.ctl("POST", "/rehearsal/world", {"codedeployGroups": [
        {"application": "rh-timed", "group": "prod", "platform": "Server", "instances": ["i-1"]}]})
    timed = aws.ctl("POST", "/rehearsal/codedeploy", {"application": "rh-timed", "group": "prod",
                                                       "revision": bundle("v1.zip")})[1]["deploymentId"]
    assert report(timed, "i-1", "Succeeded")[0] == 409


@check
def rehearsal_ecs_native_hooks_and_rollback(aws):
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="rn")
    arns = [ecs.register_task_definition(family="rn", containerDefinitions=[
        {"name": "app", "image": f"web:{v}", "memory": 128}])["taskDefinition"]["taskDefinitionArn"] for v in (1, 2)]
    ecs.create_service(cluster="rn", serviceName="web", taskDefinition=arns[0], desiredCount=1)
    aws.ctl("POST", "/deployments", {"ecsServices": [{"cluster": "rn", "service": "web", "deployments": [
        {"id": "web-1", "status": "SUCCESSFUL", "taskDefinition": arns[0]}]}]})
    aws.ctl("POST", "/rehearsal/script", {"targets": "unhealthy"})
    ecs.update_service(cluster="rn", service="web", taskDefinition=arns[1])
    hooks = [{"stage": "POST_TEST_TRAFFIC_SHIFT", "function": "gate", "hookDetails": {"x": 1}},
             {"stage": "TEST_TRAFFIC_SHIFT", "function": "gate"}]
    arn = aws.ctl("POST", "/rehearsal/ecs", {"cluster": "rn", "service": "web", "hooks": hooks})[1]["serviceDeploymentArn"]
    view = aws.ctl("GET", "/rehearsal/ecs", {"serviceDeploymentArn": arn})[1]
    assert view["hook"]["lifecycleStage"] == "TEST_TRAFFIC_SHIFT", view
    weights = view["hook"]["executionDetails"]["testTrafficWeights"]
    assert sorted(weights.values()) == [0, 100], view
    view = aws.ctl("POST", "/rehearsal/ecs/answer", {"serviceDeploymentArn": arn, "answer": {"hookStatus": "SUCCEEDED"}})[1]
    assert view["hook"]["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT" and view["hook"]["hookDetails"] == {"x": 1}, view
    view = aws.ctl("POST", "/rehearsal/ecs/answer", {"serviceDeploymentArn": arn, "answer": {
        "hookStatus": "IN_PROGRESS", "hookDetails": {"gateState": {"p": 1}}}})[1]
    assert view["hook"]["hookDetails"] == {"x": 1, "gateState": {"p": 1}}, view
    view = aws.ctl("POST", "/rehearsal/ecs/answer", {"serviceDeploymentArn": arn, "answer": {"hookStatus": "FAILED"}})[1]
    assert view["status"] == "ROLLBACK_IN_PROGRESS" and view["hook"]["lifecycleStage"] == "TEST_TRAFFIC_SHIFT", view
    target = view["hook"]["executionDetails"]["targetServiceRevisionArn"]
    assert view["hook"]["executionDetails"]["testTrafficWeights"][target] == 0, view
    view = aws.ctl("POST", "/rehearsal/ecs/answer", {"serviceDeploymentArn": arn, "answer": {"hookStatus": "SUCCEEDED"}})[1]
    assert view["status"] == "ROLLBACK_SUCCESSFUL" and "hook" not in view, view
    assert ecs.describe_services(cluster="rn", services=["web"])["services"][0]["taskDefinition"] == arns[0]


@check
def rehearsal_ecs_canary_steps_and_a_failing_second_step(aws):
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="rc")
    arns = [ecs.register_task_definition(family="rc", containerDefinitions=[
        {"name": "app", "image": f"web:{v}", "memory": 128}])["taskDefinition"]["taskDefinitionArn"] for v in (1, 2)]
    ecs.create_service(cluster="rc", serviceName="web", taskDefinition=arns[0], desiredCount=1)
    aws.ctl("POST", "/deployments", {"ecsServices": [{"cluster": "rc", "service": "web", "deployments": [
        {"id": "rc-1", "status": "SUCCESSFUL", "taskDefinition": arns[0]}]}]})
    aws.ctl("POST", "/rehearsal/script", {"failStep": 2})
    ecs.update_service(cluster="rc", service="web", taskDefinition=arns[1])
    tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rc-green/1"
    arn = aws.ctl("POST", "/rehearsal/ecs", {"cluster": "rc", "service": "web", "targetGroups": [tg], "steps": [10, 100],
                                             "hooks": [{"stage": "PRODUCTION_TRAFFIC_SHIFT", "function": "gate"}]})[1]["serviceDeploymentArn"]
    health = lambda: [t["TargetHealth"]["State"] for t in aws.client("elbv2").describe_target_health(
        TargetGroupArn=tg)["TargetHealthDescriptions"]]
    view = aws.ctl("GET", "/rehearsal/ecs", {"serviceDeploymentArn": arn})[1]
    target = view["hook"]["executionDetails"]["targetServiceRevisionArn"]
    assert view["hook"]["executionDetails"]["productionTrafficWeights"][target] == 10, view
    assert set(health()) == {"healthy"}, health()
    view = aws.ctl("POST", "/rehearsal/ecs/answer", {"serviceDeploymentArn": arn, "answer": {"hookStatus": "SUCCEEDED"}})[1]
    assert view["hook"]["executionDetails"]["productionTrafficWeights"][target] == 100, view
    assert set(health()) == {"unhealthy"}, health()
    view = aws.ctl("POST", "/rehearsal/ecs/answer", {"serviceDeploymentArn": arn, "answer": {"hookStatus": "FAILED"}})[1]
    # Rolling back: the production hook once more, weights reversed.
    assert view["status"] == "ROLLBACK_IN_PROGRESS", view
    assert view["hook"]["executionDetails"]["productionTrafficWeights"][target] == 0, view
    view = aws.ctl("POST", "/rehearsal/ecs/answer", {"serviceDeploymentArn": arn, "answer": {"hookStatus": "SUCCEEDED"}})[1]
    assert view["status"] == "ROLLBACK_SUCCESSFUL", view
    assert ecs.describe_services(cluster="rc", services=["web"])["services"][0]["taskDefinition"] == arns[0]
    aws.ctl("POST", "/rehearsal/script", {})


LAYER = bytes(range(256)) * 1200       # 307,200 bytes
CONFIG = b'{"architecture": "amd64", "os": "linux"}'


@check
def ecr_tag_mutability_exclusion_filters_are_wildcards(aws):
    ecr = aws.client("ecr")
    manifest = lambda n: json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                     "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": n,
                                                "digest": "sha256:" + f"{n:064x}"}, "layers": []})

    def put(repo, tag, n):
        try:
            ecr.put_image(repositoryName=repo, imageTag=tag, imageManifest=manifest(n))
            return "ok"
        except ClientError as err:
            return err.response["Error"]["Code"]

    ecr.create_repository(repositoryName="mx-imm", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                          imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"},
                                                              {"filterType": "WILDCARD", "filter": "*-rc"}])
    first = [put("mx-imm", t, 1) for t in ("latest", "v1", "2.0-rc", "latest-x")]
    assert first == ["ok"] * 4, first
    second = [put("mx-imm", t, 2) for t in ("latest", "v1", "2.0-rc", "latest-x")]
    assert second == ["ok", "ImageTagAlreadyExistsException", "ok", "ImageTagAlreadyExistsException"], second
    ecr.create_repository(repositoryName="mx-mut", imageTagMutability="MUTABLE_WITH_EXCLUSION",
                          imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "release-*"}])
    first = [put("mx-mut", t, 1) for t in ("main", "release-1", "xrelease-1")]
    assert first == ["ok"] * 3, first
    second = [put("mx-mut", t, 2) for t in ("main", "release-1", "xrelease-1")]
    assert second == ["ok", "ImageTagAlreadyExistsException", "ok"], second


@check
def ecr_layer_upload_check_and_download(aws):
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="team/layers")
    upload = ecr.initiate_layer_upload(repositoryName="team/layers")
    assert upload["partSize"] == 10485760 and len(upload["uploadId"]) == 36, upload
    assert aws.ctl("POST", "/ecr/settings", {"partSize": 65536, "minPartSize": 65536}) == (
        200, {"partSize": 65536, "minPartSize": 65536})
    done = push_blob(ecr, "team/layers", LAYER, 65536)
    assert done["layerDigest"] == sha256(LAYER) and done["registryId"] == "123456789012", done
    assert done["repositoryName"] == "team/layers", done
    assert len(aws.calls(operation="UploadLayerPart")) == 5  # 4 x 64 KiB and the rest
    config = push_blob(ecr, "team/layers", CONFIG, 65536)["layerDigest"]
    missing = sha256(b"not uploaded")
    out = ecr.batch_check_layer_availability(repositoryName="team/layers",
                                             layerDigests=[done["layerDigest"], missing, "nonsense"])
    assert out["layers"] == [{"layerDigest": sha256(LAYER), "layerAvailability": "AVAILABLE",
                              "layerSize": len(LAYER)}], out
    assert [(f["layerDigest"], f["failureCode"]) for f in out["failures"]] == [
        (missing, "MissingLayerDigest"), ("nonsense", "InvalidLayerDigest")], out
    # Not downloadable until an image refers to it; then a URL back to the emulator.
    expect_error("LayerInaccessibleException", 400, ecr.get_download_url_for_layer, repositoryName="team/layers",
                 layerDigest=sha256(LAYER))
    expect_error("LayersNotFoundException", 400, ecr.get_download_url_for_layer, repositoryName="team/layers",
                 layerDigest=missing)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                           "size": len(CONFIG)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": sha256(LAYER), "size": len(LAYER)}]}
    ecr.put_image(repositoryName="team/layers", imageManifest=json.dumps(manifest), imageTag="v1",
                  imageManifestMediaType="application/vnd.oci.image.manifest.v1+json")
    layer = ecr.batch_check_layer_availability(repositoryName="team/layers", layerDigests=[config])["layers"][0]
    assert layer["mediaType"] == "application/vnd.oci.image.config.v1+json", layer
    url = ecr.get_download_url_for_layer(repositoryName="team/layers", layerDigest=sha256(LAYER))
    assert url["layerDigest"] == sha256(LAYER), url
    assert url["downloadUrl"].startswith(aws.url + "/_local/ecr-blobs/123456789012/us-east-1/team/layers/"), url
    for part in ("X-Amz-Credential=", "X-Amz-Security-Token=", "X-Amz-Signature="):
        assert part in url["downloadUrl"], f"a presigned URL carries {part}: {url}"
    status, headers, body = fetch(url["downloadUrl"])
    assert status == 200 and body == LAYER and headers["Content-Length"] == str(len(LAYER)), (status, headers)
    status, headers, body = fetch(url["downloadUrl"], {"Range": "bytes=256-511"})
    assert status == 206 and body == bytes(range(256)), (status, len(body))
    assert headers["Content-Range"] == f"bytes 256-511/{len(LAYER)}", headers
    assert fetch(url["downloadUrl"], {"Range": "bytes=-10"})[2] == LAYER[-10:]
    assert fetch(url["downloadUrl"], {"Range": f"bytes={len(LAYER)}-"})[0] == 416
    status, _, body = fetch(url["downloadUrl"].replace(sha256(LAYER), missing))
    assert status == 404 and b"NoSuchKey" in body, (status, body)
    downloads = aws.calls(service="ecr-blob")
    assert [c["operation"] for c in downloads] == ["DownloadLayer"] * 5, downloads
    assert downloads[0]["request"] == {"registryId": "123456789012", "region": "us-east-1",
                                       "repositoryName": "team/layers", "layerDigest": sha256(LAYER)}, downloads[0]
    assert [c["status"] for c in downloads] == [200, 206, 206, 416, 404], downloads
    # Uploading a blob the repository has, in another repository it is new.
    expect_error("LayerAlreadyExistsException", 400, push_blob, ecr, "team/layers", LAYER, 65536)
    ecr.create_repository(repositoryName="team/copy")
    assert push_blob(ecr, "team/copy", LAYER, 200000)["layerDigest"] == sha256(LAYER)
    blobs = aws.ctl("GET", "/ecr/blobs?repositoryName=team/copy")[1]
    assert blobs == [{"registryId": "123456789012", "region": "us-east-1", "repositoryName": "team/copy",
                      "digest": sha256(LAYER), "size": len(LAYER)}], blobs


@check
def ecr_layer_errors(aws):
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="errors")
    expect_error("RepositoryNotFoundException", 400, ecr.initiate_layer_upload, repositoryName="nope")
    expect_error("RepositoryNotFoundException", 400, ecr.batch_check_layer_availability, repositoryName="nope",
                 layerDigests=[sha256(b"x")])
    expect_error("RepositoryNotFoundException", 400, ecr.initiate_layer_upload, repositoryName="errors",
                 registryId="210987654321")
    upload = ecr.initiate_layer_upload(repositoryName="errors")["uploadId"]
    expect_error("UploadNotFoundException", 400, ecr.upload_layer_part, repositoryName="errors",
                 uploadId=str(uuid.uuid4()), partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
    expect_error("UploadNotFoundException", 400, ecr.upload_layer_part, repositoryName="team/copy",
                 uploadId=upload, partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
    expect_error("EmptyUploadException", 400, ecr.complete_layer_upload, repositoryName="errors",
                 uploadId=upload, layerDigests=[sha256(b"")])
    ecr.upload_layer_part(repositoryName="errors", uploadId=upload, partFirstByte=0, partLastByte=2,
                          layerPartBlob=b"abc")
    err = expect_error("InvalidLayerPartException", 400, ecr.upload_layer_part, repositoryName="errors",
                       uploadId=upload, partFirstByte=5, partLastByte=7, layerPartBlob=b"def")
    assert err.response["lastValidByteReceived"] == 2 and err.response["uploadId"] == upload, err.response
    expect_error("InvalidLayerPartException", 400, ecr.upload_layer_part, repositoryName="errors",
                 uploadId=upload, partFirstByte=3, partLastByte=9, layerPartBlob=b"def")
    ecr.upload_layer_part(repositoryName="errors", uploadId=upload, partFirstByte=3, partLastByte=5,
                          layerPartBlob=b"def")
    # Parts other than the last below the minimum part size (64 KiB, set above).
    expect_error("LayerPartTooSmallException", 400, ecr.complete_layer_upload, repositoryName="errors",
                 uploadId=upload, layerDigests=[sha256(b"abcdef")])
    expect_error("UploadNotFoundException", 400, ecr.complete_layer_upload, repositoryName="errors",
                 uploadId=upload, layerDigests=[sha256(b"abcdef")])
    upload = ecr.initiate_layer_upload(repositoryName="errors")["uploadId"]
    ecr.upload_layer_part(repositoryName="errors", uploadId=upload, partFirstByte=0, partLastByte=5,
                          layerPartBlob=b"abcdef")
    err = expect_error("InvalidLayerException", 400, ecr.complete_layer_upload, repositoryName="errors",
                       uploadId=upload, layerDigests=[sha256(b"abcdeX")])
    assert sha256(b"abcdef") in str(err), err
    expect_error("LayersNotFoundException", 400, ecr.get_download_url_for_layer, repositoryName="errors",
                 layerDigest=sha256(b"abcdef"))
    # Expired and unknown download URLs, as S3 answers them.
    stored = aws.ctl("POST", "/ecr/blobs", {"repositoryName": "errors",
                                            "content_b64": base64.b64encode(b"abcdef").decode()})
    assert stored == (200, {"digest": sha256(b"abcdef"), "size": 6, "registryId": "123456789012",
                            "region": "us-east-1", "repositoryName": "errors"}), stored
    base = f"{aws.url}/_local/ecr-blobs/123456789012/us-east-1/errors/{sha256(b'abcdef')}"
    assert fetch(base + "?X-Amz-Signature=local")[2] == b"abcdef"
    status, _, body = fetch(base + "?X-Amz-Date=20200101T000000Z&X-Amz-Expires=3600&X-Amz-Signature=local")
    assert status == 403 and b"expired" in body, (status, body)
    assert aws.ctl("POST", "/ecr/blobs", {"repositoryName": "nope", "content_b64": ""})[0] == 404
    assert aws.ctl("POST", "/ecr/blobs", {"repositoryName": "errors", "content_b64": "%%"})[0] == 400
    assert aws.ctl("POST", "/ecr/settings", {"partSize": 0})[0] == 400


@check
def ecr_layer_faults_and_cross_account(aws):
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="faults")
    aws.fault(service="ecr", operation="UploadLayerPart", kind="throttle")
    expect_error("ThrottlingException", 400, push_blob, ecr, "faults", LAYER, 65536)
    digest = push_blob(ecr, "faults", LAYER, 65536)["layerDigest"]  # a throttled part changed nothing
    ecr.put_image(repositoryName="faults", imageTag="v1", imageManifestMediaType=DOCKER_V2,
                  imageManifest=json.dumps({"schemaVersion": 2, "mediaType": DOCKER_V2, "config": {
                      "mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest,
                      "size": len(LAYER)}, "layers": []}))
    url = ecr.get_download_url_for_layer(repositoryName="faults", layerDigest=digest)["downloadUrl"]
    aws.fault(service="ecr-blob", operation="DownloadLayer", kind="throttle")
    aws.fault(service="ecr-blob", operation="DownloadLayer", kind="delay", delay_ms=300)
    status, _, body = fetch(url)
    assert status == 503 and b"<Code>SlowDown</Code>" in body, (status, body)
    began = time.monotonic()
    assert fetch(url)[2] == LAYER and time.monotonic() - began >= 0.3
    assert [c["fault"] for c in aws.calls(service="ecr-blob")[-2:]] == ["throttle", "delay"]
    # Keys from an assumed role belong to the role's account: its own registry.
    make_role(aws, "222233334444", "target", trust("arn:aws:iam::123456789012:root"))
    creds = aws.client("sts").assume_role(RoleArn="arn:aws:iam::222233334444:role/target",
                                          RoleSessionName="selftest")["Credentials"]
    other = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                  aws_secret_access_key=creds["SecretAccessKey"],
                                  aws_session_token=creds["SessionToken"], region_name="us-east-1").client(
        "ecr", endpoint_url=aws.url, config=aws.config)
    other.create_repository(repositoryName="faults")
    out = other.batch_check_layer_availability(repositoryName="faults", layerDigests=[digest])
    assert out["layers"] == [] and out["failures"][0]["failureCode"] == "MissingLayerDigest", out
    assert push_blob(other, "faults", LAYER, 65536)["registryId"] == "222233334444"
    # The caller's account reaches another registry by its id.
    out = ecr.batch_check_layer_availability(repositoryName="faults", registryId="222233334444",
                                             layerDigests=[digest])
    assert out["layers"][0]["layerAvailability"] == "AVAILABLE", out
    assert {b["registryId"] for b in aws.ctl("GET", "/ecr/blobs?repositoryName=faults")[1]} == {
        "123456789012", "222233334444"}


def trust(principal, external_id=None):
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def make_role(aws, account, name, policy):
    """A role in `account`'s IAM (moto takes the account from x-moto-account-id)."""
    iam = aws.client("iam")
    iam.meta.events.register("before-sign.iam.*", lambda request, **_: request.headers.__setitem__(
        "x-moto-account-id", account))
    try:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))
    except ClientError as err:
        if err.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    return f"arn:aws:iam::{account}:role/{name}"


def session_of(aws, creds):
    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                 aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"], region_name="us-east-1")


@check
def sts_assume_role_checks_the_trust_policy_and_credentials_expire(aws):
    sts = aws.client("sts")
    by_root = make_role(aws, "222222222222", "by-root", trust("arn:aws:iam::123456789012:root"))
    by_id = make_role(aws, "222222222222", "by-id", trust("123456789012", "tools-1"))
    stranger = make_role(aws, "222222222222", "stranger", trust("arn:aws:iam::999999999999:root"))
    denying = make_role(aws, "222222222222", "denying", {"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}]})
    creds = sts.assume_role(RoleArn=by_root, RoleSessionName="selftest")["Credentials"]
    sts.assume_role(RoleArn=by_id, RoleSessionName="selftest", ExternalId="tools-1")
    for role, extra in [(by_id, {}), (by_id, {"ExternalId": "other"}), (stranger, {}), (denying, {}),
                        ("arn:aws:iam::222222222222:role/missing", {})]:
        err = expect_error("AccessDenied", 403, sts.assume_role, RoleArn=role, RoleSessionName="selftest", **extra)
        assert "is not authorized to perform: sts:AssumeRole on resource: " + role in str(err), err
    # A role trusting another role: the caller's own role ARN.
    chained = make_role(aws, "333333333333", "chained", trust(by_root))
    session_of(aws, creds).client("sts", endpoint_url=aws.url, config=aws.config).assume_role(
        RoleArn=chained, RoleSessionName="selftest")
    issued = aws.ctl("GET", "/sts/credentials")[1]
    assert creds["SessionToken"] in [c["sessionToken"] for c in issued], issued
    assert {c["roleArn"] for c in issued} >= {by_root, by_id, chained}, issued
    # The call log says which account each call acted in.
    ecs = session_of(aws, creds).client("ecs", endpoint_url=aws.url, config=aws.config)
    ecs.list_clusters()
    assert aws.calls(service="ecs")[-1]["account"] == "222222222222"
    # Expired credentials are refused in the caller's protocol; fresh ones work.
    assert aws.ctl("POST", "/sts/expire", {}) == (200, {"ok": True})
    expect_error("ExpiredTokenException", 400, ecs.list_clusters)
    fresh = sts.assume_role(RoleArn=by_root, RoleSessionName="selftest")["Credentials"]
    session_of(aws, fresh).client("ecs", endpoint_url=aws.url, config=aws.config).list_clusters()
    # Trust checking can be turned off.
    aws.ctl("POST", "/sts", {"enforceTrust": False})
    sts.assume_role(RoleArn=stranger, RoleSessionName="selftest")
    aws.ctl("POST", "/sts", {"enforceTrust": True})


@check
def workload_accounts_see_only_their_own_histories_alarms_and_health(aws):
    role = make_role(aws, "222222222222", "viewer", trust("arn:aws:iam::123456789012:root"))
    creds = aws.client("sts").assume_role(RoleArn=role, RoleSessionName="selftest")["Credentials"]
    theirs = session_of(aws, creds)
    tg = "arn:aws:elasticloadbalancing:us-east-1:222222222222:targetgroup/acct-tg/1"
    aws.ctl("POST", "/state", {"account": "222222222222", "alarms": [{"AlarmName": "acct-5xx", "StateValue": "ALARM"}],
                               "targetHealth": {tg: [{"targets": [{"id": "10.0.0.1", "state": "healthy"}]}]}})
    aws.ctl("POST", "/deployments", {"account": "222222222222", "ecsServices": [{"cluster": "acct", "service": "web",
             "deployments": [{"id": "d1", "status": "SUCCESSFUL", "taskDefinition": "td:1"}]}],
             "alarmTags": {"arn:aws:cloudwatch:us-east-1:222222222222:alarm:acct-5xx": {"rollback:ecs-service": "acct/web"}}})
    mine_ecs, their_ecs = aws.client("ecs"), theirs.client("ecs", endpoint_url=aws.url, config=aws.config)
    assert mine_ecs.list_service_deployments(cluster="acct", service="web")["serviceDeployments"] == []
    found = their_ecs.list_service_deployments(cluster="acct", service="web")["serviceDeployments"]
    assert [d["serviceDeploymentArn"].split(":")[4] for d in found] == ["222222222222"], found
    mine_cw, their_cw = aws.client("cloudwatch"), theirs.client("cloudwatch", endpoint_url=aws.url, config=aws.config)
    assert [a["AlarmName"] for a in their_cw.describe_alarms(AlarmNames=["acct-5xx"])["MetricAlarms"]] == ["acct-5xx"]
    assert mine_cw.describe_alarms(AlarmNames=["acct-5xx"])["MetricAlarms"] == []
    arn = "arn:aws:cloudwatch:us-east-1:222222222222:alarm:acct-5xx"
    assert their_cw.list_tags_for_resource(ResourceARN=arn)["Tags"]
    expect_error("ResourceNotFoundException", 400, mine_cw.list_tags_for_resource, ResourceARN=arn)
    health = theirs.client("elbv2", endpoint_url=aws.url, config=aws.config).describe_target_health(TargetGroupArn=tg)
    assert health["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "healthy", health
    aws.ctl("POST", "/state", {"alarms": []})


TOOLS, STAGING, PROD = "123456789012", "222222222222", "333333333333"


def assumed(aws, role, session_name="selftest", **extra):
    """(a boto3 session acting as `role`, its credentials), assumed with the test credentials."""
    creds = aws.client("sts").assume_role(RoleArn=role, RoleSessionName=session_name, **extra)["Credentials"]
    return session_of(aws, creds), creds


def client_of(aws, session, name):
    return session.client(name, endpoint_url=aws.url, config=aws.config)


def invisible(fn, **kwargs):
    """What a call answers about something its account does not have: moto's error
    (None) or moto's answer."""
    try:
        return fn(**kwargs)
    except ClientError:
        return None


@check
def sts_caller_arns_principals_and_conditions(aws):
    sts = aws.client("sts")
    # Plain test credentials are what moto's GetCallerIdentity says they are.
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{TOOLS}:user/moto"
    listed = make_role(aws, STAGING, "listed-ids", trust(f"arn:aws:iam::{TOOLS}:root", ["id-a", "id-b"]))
    sts.assume_role(RoleArn=listed, RoleSessionName="selftest", ExternalId="id-b")
    err = expect_error("AccessDenied", 403, sts.assume_role, RoleArn=listed, RoleSessionName="selftest")
    assert str(err).endswith(f"User: arn:aws:sts::{TOOLS}:user/moto is not authorized to perform: "
                             f"sts:AssumeRole on resource: {listed}"), err
    # The role must be in the ARN's account: the same name in another account is not it.
    expect_error("AccessDenied", 403, sts.assume_role, RoleArn=f"arn:aws:iam::{PROD}:role/listed-ids",
                 RoleSessionName="selftest", ExternalId="id-b")
    # A role trusting an assumed-role session: that session only, and refusals name it.
    hop = make_role(aws, STAGING, "hop", trust(TOOLS))
    session, _ = assumed(aws, hop)
    by_session = make_role(aws, PROD, "by-session", trust(f"arn:aws:sts::{STAGING}:assumed-role/hop/selftest"))
    hopped = client_of(aws, session, "sts")
    hopped.assume_role(RoleArn=by_session, RoleSessionName="next")
    expect_error("AccessDenied", 403, sts.assume_role, RoleArn=by_session, RoleSessionName="selftest")
    err = expect_error("AccessDenied", 403, hopped.assume_role, RoleArn=listed, RoleSessionName="next")
    assert f"User: arn:aws:sts::{STAGING}:assumed-role/hop/selftest is not authorized" in str(err), err
    # Wildcard actions and principals; what is not understood refuses: an Allow with
    # another condition operator allows nothing, such a Deny applies.
    anyone = {"Effect": "Allow", "Principal": "*", "Action": "sts:Assume*"}
    sts.assume_role(RoleArn=make_role(aws, STAGING, "anyone", {"Statement": [anyone]}), RoleSessionName="selftest")
    like = make_role(aws, STAGING, "like", {"Statement": [{"Effect": "Allow", "Principal": {"AWS": [TOOLS]},
                                                           "Action": "sts:*", "Condition": {
                                                               "StringLike": {"sts:ExternalId": "id-*"}}}]})
    expect_error("AccessDenied", 403, sts.assume_role, RoleArn=like, RoleSessionName="selftest", ExternalId="id-a")
    mfa = make_role(aws, STAGING, "mfa", {"Statement": [anyone, {
        "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}]})
    expect_error("AccessDenied", 403, sts.assume_role, RoleArn=mfa, RoleSessionName="selftest")
    # A Deny applies only when its external id condition is met.
    picky = make_role(aws, STAGING, "picky", {"Statement": [anyone, {
        "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "banned"}}}]})
    sts.assume_role(RoleArn=picky, RoleSessionName="selftest", ExternalId="fine")
    expect_error("AccessDenied", 403, sts.assume_role, RoleArn=picky, RoleSessionName="selftest", ExternalId="banned")
    assert aws.ctl("GET", "/sts") == (200, {"enforceTrust": True})
    assert aws.ctl("POST", "/sts", {"enforceTrust": "no"})[0] == 400


@check
def sts_credentials_expire_in_every_protocol(aws):
    role = make_role(aws, STAGING, "expiring", trust(f"arn:aws:iam::{TOOLS}:root"))
    session, creds = assumed(aws, role, DurationSeconds=900)
    entry = next(c for c in aws.ctl("GET", "/sts/credentials")[1] if c["accessKeyId"] == creds["AccessKeyId"])
    assert entry["account"] == STAGING and entry["roleArn"] == role and entry["expired"] is False, entry
    assert abs(creds["Expiration"].timestamp() - (time.time() + 900)) < 30, creds["Expiration"]
    other, _ = assumed(aws, role)
    s3, ecr = client_of(aws, session, "s3"), client_of(aws, session, "ecr")
    s3.create_bucket(Bucket="expiring")
    # A layer download URL acts for the credentials that got it.
    ecr.create_repository(repositoryName="expiring")
    digest = push_blob(ecr, "expiring", CONFIG, 65536)["layerDigest"]
    ecr.put_image(repositoryName="expiring", imageTag="v1", imageManifestMediaType=DOCKER_V2,
                  imageManifest=json.dumps({"schemaVersion": 2, "mediaType": DOCKER_V2, "config": {
                      "mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest,
                      "size": len(CONFIG)}, "layers": []}))
    url = ecr.get_download_url_for_layer(repositoryName="expiring", layerDigest=digest)["downloadUrl"]
    assert fetch(url)[2] == CONFIG
    # Only the credentials named expire; each protocol answers as AWS does, before any fault.
    assert aws.ctl("POST", "/sts/expire", {"accessKeyId": creds["AccessKeyId"]}) == (200, {"ok": True})
    assert aws.ctl("POST", "/sts/expire", {"accessKeyId": "ASIANEVERISSUED"})[0] == 404
    aws.fault(service="ecs", operation="ListClusters", kind="throttle")
    expect_error("ExpiredTokenException", 400, client_of(aws, session, "ecs").list_clusters)
    assert [f["count"] for f in aws.ctl("GET", "/faults")[1]] == [1]  # not used by the refused call
    expect_error("ThrottlingException", 400, client_of(aws, other, "ecs").list_clusters)
    client_of(aws, other, "ecs").list_clusters()  # other credentials are not affected
    expect_error("ExpiredTokenException", 400, aws.cbor_client("cloudwatch", session).describe_alarms)
    expect_error("ExpiredToken", 403, client_of(aws, session, "sts").get_caller_identity)
    expect_error("ExpiredToken", 403, client_of(aws, session, "elbv2").describe_load_balancers)
    expect_error("ExpiredToken", 400, s3.list_objects_v2, Bucket="expiring")
    expect_error("RequestExpired", 400, client_of(aws, session, "ec2").describe_vpcs)
    status, _, body = fetch(url)
    assert status == 400 and b"<Code>ExpiredToken</Code>" in body, (status, body)
    refused = [c for c in aws.calls(account=STAGING) if c["status"] in (400, 403) and not c["fault"]][-7:]
    assert [c["operation"] for c in refused] == ["ListClusters", "DescribeAlarms", "GetCallerIdentity",
                                                 "DescribeLoadBalancers", "ListObjectsV2", "DescribeVpcs",
                                                 "DownloadLayer"], refused
    assert next(c for c in aws.ctl("GET", "/sts/credentials")[1]
                if c["accessKeyId"] == creds["AccessKeyId"])["expired"] is True
    # Credentials also expire when their time is up (DurationSeconds, sent raw: botocore
    # refuses less than 900).
    body = f"Action=AssumeRole&Version=2011-06-15&RoleArn={role}&RoleSessionName=short&DurationSeconds=1"
    req = urllib.request.Request(aws.url + "/", data=body.encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20250101/us-east-1/sts/aws4_request, Signature=x"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        key = resp.read().decode().split("<AccessKeyId>")[1].split("<")[0]
    time.sleep(1.2)
    short = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key="x", aws_session_token="x",
                                  region_name="us-east-1")
    expect_error("ExpiredTokenException", 400, client_of(aws, short, "ecs").list_clusters)
    # Everything expires at once; a fresh AssumeRole works again.
    aws.ctl("POST", "/sts/expire", {})
    expect_error("ExpiredTokenException", 400, client_of(aws, other, "ecs").list_clusters)
    fresh, _ = assumed(aws, role)
    assert client_of(aws, fresh, "s3").list_objects_v2(Bucket="expiring")["KeyCount"] == 0


@check
def workload_account_pipelines_histories_and_timelines_are_its_own(aws):
    theirs, _ = assumed(aws, make_role(aws, STAGING, "isolated", trust(f"arn:aws:iam::{TOOLS}:root")))
    cp_mine, cp_theirs = aws.client("codepipeline"), client_of(aws, theirs, "codepipeline")
    # Pipeline states: a body's account replaces that account's part only.
    run = str(uuid.uuid4())
    aws.ctl("POST", "/state", {"account": STAGING, "pipelines": {"xa": {"pipelineName": "xa", "stageStates": [
        {"stageName": "Prod", "latestExecution": {"pipelineExecutionId": run, "status": "Succeeded"}}]}}})
    assert "app" in aws.ctl("GET", "/state")[1]["pipelines"]
    assert list(aws.ctl("GET", f"/state?account={STAGING}")[1]["pipelines"]) == ["xa"]
    expect_error("PipelineNotFoundException", 400, cp_mine.get_pipeline_state, name="xa")
    err = expect_error("PipelineNotFoundException", 400, cp_theirs.get_pipeline_state, name="app")
    assert f"Account '{STAGING}'" in str(err), err
    cp_mine.disable_stage_transition(pipelineName="xa", stageName="Prod", transitionType="Inbound", reason="r")
    cp_theirs.disable_stage_transition(pipelineName="xa", stageName="Prod", transitionType="Inbound", reason="r")
    state = cp_theirs.get_pipeline_state(name="xa")["stageStates"][0]["inboundTransitionState"]
    assert state["enabled"] is False and STAGING in state["lastChangedBy"], state
    aws.ctl("POST", "/deployments", {"account": STAGING, "pipelineExecutions": {"xa": [
        {"pipelineExecutionId": run, "status": "Succeeded", "startTime": 1000, "succeededInStages": ["Prod"]}]}})
    assert [e["pipelineExecutionId"] for e in cp_theirs.list_pipeline_executions(pipelineName="xa")[
        "pipelineExecutionSummaries"]] == [run]
    assert run not in json.dumps((invisible(cp_mine.list_pipeline_executions, pipelineName="xa") or {}), default=str)
    cp_theirs.rollback_stage(pipelineName="xa", stageName="Prod", targetPipelineExecutionId=run)
    assert cp_theirs.get_pipeline_state(name="xa")["stageStates"][0]["latestExecution"]["type"] == "ROLLBACK"
    # Deployment histories: per-item accounts; the same service name in two accounts.
    td = f"arn:aws:ecs:us-east-1:{STAGING}:task-definition/iso:1"
    aws.ctl("POST", "/deployments", {
        "ecsServices": [{"cluster": "iso", "service": "web", "account": STAGING, "deployments": [
            {"id": "x1", "status": "IN_PROGRESS", "taskDefinition": td}]}],
        "codedeployGroups": [{"application": "iso", "group": "prod", "account": STAGING, "deployments": [
            {"id": "d-ISO1", "status": "InProgress"}]}]})
    aws.ctl("POST", "/deployments", {"ecsServices": [{"cluster": "iso", "service": "web", "deployments": [
        {"id": "t1", "status": "SUCCESSFUL", "taskDefinition": td}]}]})
    ecs_mine, ecs_theirs = aws.client("ecs"), client_of(aws, theirs, "ecs")
    [mine] = ecs_mine.list_service_deployments(cluster="iso", service="web")["serviceDeployments"]
    [xa] = ecs_theirs.list_service_deployments(cluster="iso", service="web")["serviceDeployments"]
    assert f":{TOOLS}:" in mine["serviceDeploymentArn"] and f":{STAGING}:" in xa["serviceDeploymentArn"], (mine, xa)
    expect_error("ServiceDeploymentNotFoundException", 400, ecs_mine.stop_service_deployment,
                 serviceDeploymentArn=xa["serviceDeploymentArn"])
    ecs_theirs.stop_service_deployment(serviceDeploymentArn=xa["serviceDeploymentArn"], stopType="ROLLBACK")
    assert aws.ctl("GET", f"/deployments?account={STAGING}")[1]["ecs"]["iso/web"][0]["status"] == "ROLLBACK_REQUESTED"
    assert aws.ctl("GET", "/deployments")[1]["ecs"]["iso/web"][0]["status"] == "SUCCESSFUL"
    cd_mine, cd_theirs = aws.client("codedeploy"), client_of(aws, theirs, "codedeploy")
    assert invisible(cd_mine.get_deployment, deploymentId="d-ISO1") is None
    cd_theirs.stop_deployment(deploymentId="d-ISO1")
    assert cd_theirs.get_deployment(deploymentId="d-ISO1")["deploymentInfo"]["status"] == "Stopped"
    # A seed naming another account than the item's ARN is refused.
    assert aws.ctl("POST", "/deployments", {"account": STAGING, "alarmTags": {
        f"arn:aws:cloudwatch:us-east-1:{PROD}:alarm:x": {}}})[0] == 400
    # Health timelines: by the body's account, or by the ARN.
    aws.ctl("POST", "/state", {"account": STAGING, "codedeployDeployments": {"d-XAGATE": {
        "applicationName": "xa", "deploymentGroupName": "prod", "timeline": [{"status": "InProgress"},
                                                                             {"status": "Succeeded"}]}},
        "metricData": {"xa-p99": [[60, 0.5]]}})
    assert [cd_theirs.get_deployment(deploymentId="d-XAGATE")["deploymentInfo"]["status"] for _ in range(2)] == [
        "InProgress", "Succeeded"]
    assert invisible(cd_mine.get_deployment, deploymentId="d-XAGATE") is None
    arn = f"arn:aws:ecs:us-east-1:{STAGING}:service-deployment/xa-gate/web/g1"
    aws.ctl("POST", "/state", {"serviceDeployments": [{
        "serviceDeploymentArn": arn, "serviceArn": f"arn:aws:ecs:us-east-1:{STAGING}:service/xa-gate/web",
        "clusterArn": f"arn:aws:ecs:us-east-1:{STAGING}:cluster/xa-gate", "timeline": [{"status": "IN_PROGRESS"}]}]})
    assert [d["status"] for d in ecs_theirs.describe_service_deployments(serviceDeploymentArns=[arn])[
        "serviceDeployments"]] == ["IN_PROGRESS"]
    assert ecs_mine.list_service_deployments(cluster="xa-gate", service="web")["serviceDeployments"] == []
    now, query = time.time(), [{"Id": "xa-p99", "MetricStat": {"Metric": {"Namespace": "n", "MetricName": "m"},
                                                            "Period": 60, "Stat": "p99"}}]
    metric = lambda cw: cw.get_metric_data(StartTime=now - 600, EndTime=now,  # noqa: E731
                                           MetricDataQueries=query)["MetricDataResults"][0]["Values"]
    assert metric(aws.cbor_client("cloudwatch", theirs)) == [0.5] and metric(aws.cbor_client("cloudwatch")) == []
    # Alarms by their AlarmArn.
    aws.ctl("POST", "/state", {"alarms": [{"AlarmName": "home-5xx", "StateValue": "OK"}, {
        "AlarmName": "xa-arn-5xx", "StateValue": "ALARM",
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:{STAGING}:alarm:xa-arn-5xx"}]})
    names = lambda cw: [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]]  # noqa: E731
    assert names(aws.client("cloudwatch")) == ["home-5xx"]
    assert names(client_of(aws, theirs, "cloudwatch")) == ["xa-arn-5xx"]
    # The call log's account, and its filter.
    theirs_calls = aws.calls(account=STAGING)
    assert theirs_calls and all(c["account"] == STAGING for c in theirs_calls)
    assert "GetPipelineState" in [c["operation"] for c in theirs_calls]
    assert all(c["account"] == TOOLS for c in aws.calls(account=TOOLS, service="codepipeline"))
    aws.ctl("POST", "/state", {"alarms": []})


@check
def rehearsal_plays_in_a_workload_account(aws):
    theirs, _ = assumed(aws, make_role(aws, STAGING, "rehearsed", trust(f"arn:aws:iam::{TOOLS}:root")))
    bundle = lambda key: {"revisionType": "S3", "s3Location": {"bucket": "rev", "key": key, "bundleType": "zip"}}
    assert aws.ctl("POST", "/rehearsal/world", {"account": STAGING, "codedeployGroups": [
        {"application": "rh-xa", "group": "prod", "platform": "Server", "instances": ["i-1"], "alarm": "rh-xa-5xx",
         "initialRevision": bundle("v1.zip")}], "alarms": [{"name": "rh-xa-5xx", "tags": {"team": "web"}}]})[0] == 200
    start = {"application": "rh-xa", "group": "prod", "revision": bundle("v2.zip")}
    assert aws.ctl("POST", "/rehearsal/codedeploy", start)[0] == 400  # not in the tools account's world
    aws.ctl("POST", "/rehearsal/script", {})
    d = aws.ctl("POST", "/rehearsal/codedeploy", dict(start, account=STAGING))[1]["deploymentId"]
    cd_theirs = client_of(aws, theirs, "codedeploy")
    assert cd_theirs.list_deployments(applicationName="rh-xa", deploymentGroupName="prod")["deployments"][0] == d
    assert d not in (invisible(aws.client("codedeploy").list_deployments, applicationName="rh-xa",
                               deploymentGroupName="prod") or {}).get("deployments", [])
    time.sleep(1.0)
    assert cd_theirs.get_deployment(deploymentId=d)["deploymentInfo"]["status"] == "Succeeded"
    assert aws.ctl("GET", f"/rehearsal/codedeploy/{d}")[1]["status"] == "Succeeded"
    [alarm] = client_of(aws, theirs, "cloudwatch").describe_alarms(AlarmNames=["rh-xa-5xx"])["MetricAlarms"]
    assert f":{STAGING}:" in alarm["AlarmArn"], alarm
    assert aws.client("cloudwatch").describe_alarms(AlarmNames=["rh-xa-5xx"])["MetricAlarms"] == []
    assert client_of(aws, theirs, "cloudwatch").list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"] == [
        {"Key": "team", "Value": "web"}]


@check
def rehearsal_ecs_without_hooks_per_region_with_alarm(aws):
    """A hookless ECS play ends at once; each region of an account is its own (deployment
    history, alarm); alarmAfterShift sets the play's alarm, recorded with account and
    region."""
    theirs, _ = assumed(aws, make_role(aws, PROD, "rehearsed-regions", trust(f"arn:aws:iam::{TOOLS}:root")))
    arns = {}
    for region in ("us-east-1", "eu-west-1"):
        ecs = theirs.client("ecs", endpoint_url=aws.url, config=aws.config, region_name=region)
        ecs.create_cluster(clusterName="rr")
        arns[region] = [ecs.register_task_definition(family="rr", containerDefinitions=[
            {"name": "app", "image": f"web:{v}", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
            for v in (1, 2)]
        ecs.create_service(cluster="rr", serviceName="web", taskDefinition=arns[region][0], desiredCount=1)
        aws.ctl("POST", "/deployments", {"account": PROD, "ecsServices": [{
            "cluster": "rr", "service": "web", "region": region,
            "deployments": [{"id": f"rr-{region}", "status": "SUCCESSFUL", "taskDefinition": arns[region][0]}]}]})
    aws.ctl("POST", "/rehearsal/world", {"account": PROD, "alarms": [
        {"name": "rr-5xx", "region": r, "tags": {"rollback:ecs-service": "rr/web"}} for r in ("us-east-1", "eu-west-1")]})
    aws.ctl("POST", "/rehearsal/script", {"alarmAfterShift": True})
    west = theirs.client("ecs", endpoint_url=aws.url, config=aws.config, region_name="eu-west-1")
    west.update_service(cluster="rr", service="web", taskDefinition=arns["eu-west-1"][1])
    arn = aws.ctl("POST", "/rehearsal/ecs", {"cluster": "rr", "service": "web", "hooks": [], "account": PROD,
                                             "region": "eu-west-1", "alarm": "rr-5xx"})[1]["serviceDeploymentArn"]
    assert aws.ctl("GET", "/rehearsal/ecs", {"serviceDeploymentArn": arn})[1]["status"] == "SUCCESSFUL"
    east = theirs.client("ecs", endpoint_url=aws.url, config=aws.config, region_name="us-east-1")
    listed = east.list_service_deployments(cluster="rr", service="web")["serviceDeployments"]
    assert arn not in [d["serviceDeploymentArn"] for d in listed], listed
    states = {r: theirs.client("cloudwatch", endpoint_url=aws.url, config=aws.config, region_name=r)
              .describe_alarms(AlarmNames=["rr-5xx"])["MetricAlarms"][0]["StateValue"] for r in ("us-east-1", "eu-west-1")}
    assert states == {"us-east-1": "OK", "eu-west-1": "ALARM"}, states
    [event] = aws.ctl("GET", "/rehearsal/events")[1]
    assert (event["account"], event["region"], event["state"]) == (PROD, "eu-west-1", "ALARM"), event
    assert event["alarmArn"] == f"arn:aws:cloudwatch:eu-west-1:{PROD}:alarm:rr-5xx", event
    aws.ctl("POST", "/rehearsal/script", {})


@check
def ecs_pause_hooks_continue_or_roll_back_once(aws):
    ecs = aws.client("ecs")
    hook = lambda i: {"hookId": f"ecs-pause-{i}", "targetType": "PAUSE", "status": "AWAITING_ACTION",
                      "expiresAt": "2030-01-01T00:00:00Z", "timeoutAction": "ROLLBACK"}
    # A seeded history: CONTINUE once, then the hook is answered.
    aws.ctl("POST", "/deployments", {"ecsServices": [{"cluster": "ph", "service": "web", "deployments": [
        {"id": "ph-1", "status": "SUCCESSFUL", "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/ph:1"},
        {"id": "ph-2", "status": "IN_PROGRESS", "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/ph:2",
         "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT", "lifecycleHookDetails": [hook(1), hook(2)]}]}]})
    arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/ph/web/ph-2"
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-1", action="CONTINUE")
    [d] = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    assert [h["status"] for h in d["lifecycleHookDetails"]] == ["SUCCEEDED", "AWAITING_ACTION"], d
    assert d["status"] == "IN_PROGRESS" and d["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT", d
    for hook_id, code in (("ecs-pause-1", "InvalidParameterException"), ("nope", "InvalidParameterException")):
        try:
            ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id)
            raise AssertionError(f"{hook_id}: expected {code}")
        except ClientError as err:
            assert err.response["Error"]["Code"] == code, err.response
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-2", action="ROLLBACK")
    [d] = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    assert d["status"] == "ROLLBACK_IN_PROGRESS" and d["rollback"]["serviceRevisionArn"].endswith("/ph-1"), d
    assert d["lifecycleHookDetails"][1]["status"] == "FAILED", d
    # A scripted deployment: the answer outlives its timeline.
    scripted = "arn:aws:ecs:us-east-1:123456789012:service-deployment/ph/api/s-1"
    aws.ctl("POST", "/state", {"serviceDeployments": [{
        "serviceDeploymentArn": scripted, "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/ph/api",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/ph", "status": "IN_PROGRESS",
        "timeline": [{"lifecycleHookDetails": [hook(3)]}]}]})
    ecs.continue_service_deployment(serviceDeploymentArn=scripted, hookId="ecs-pause-3", action="ROLLBACK")
    for _ in range(2):
        [d] = ecs.describe_service_deployments(serviceDeploymentArns=[scripted])["serviceDeployments"]
        assert d["status"] == "ROLLBACK_IN_PROGRESS" and d["lifecycleHookDetails"][0]["status"] == "FAILED", d
    aws.ctl("POST", "/state", {"serviceDeployments": []})


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_EMPTY = {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
             "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}


def oci_manifest(layer, subject=None, artifact_type=None, config=None, annotations=None):
    """An OCI image manifest as a registry client sends it (compact JSON)."""
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        manifest["artifactType"] = artifact_type
    manifest["config"] = config or OCI_EMPTY
    manifest["layers"] = [{"mediaType": "application/octet-stream", "digest": sha256(layer), "size": len(layer)}]
    if subject:
        manifest["subject"] = {"mediaType": OCI_MANIFEST, "digest": sha256(subject.encode()),
                               "size": len(subject.encode())}
    if annotations:
        manifest["annotations"] = annotations
    return json.dumps(manifest, separators=(",", ":"), ensure_ascii=False)


def put_referrer(ecr, repo, manifest):
    """An untagged push by digest, as a referrer is pushed."""
    digest = sha256(manifest.encode())
    out = ecr.put_image(repositoryName=repo, imageManifest=manifest, imageManifestMediaType=OCI_MANIFEST,
                        imageDigest=digest)
    assert out["image"]["imageId"] == {"imageDigest": digest}, out
    return digest


SIGSTORE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SBOM = "application/spdx+json"


@check
def ecr_untagged_referrer_put_is_byte_identical(aws):
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="referred")
    subject = oci_manifest(b"app layer", config={"mediaType": "application/vnd.oci.image.config.v1+json",
                                                 "digest": sha256(CONFIG), "size": len(CONFIG)})
    # Without imageDigest, the digest is the manifest's sha256 (moto would hash its layer digests).
    out = ecr.put_image(repositoryName="referred", imageManifest=subject, imageTag="v1",
                        imageManifestMediaType=OCI_MANIFEST)
    assert out["image"]["imageId"] == {"imageDigest": sha256(subject.encode()), "imageTag": "v1"}, out
    referrer = oci_manifest(b"bundle", subject, SIGSTORE, annotations={"org.opencontainers.image.created":
                                                                       "2026-01-01T00:00:00Z", "note": "é ü"})
    digest = put_referrer(ecr, "referred", referrer)
    got = ecr.batch_get_image(repositoryName="referred", imageIds=[{"imageDigest": digest}],
                              acceptedMediaTypes=[OCI_MANIFEST])
    assert got["failures"] == [] and len(got["images"]) == 1, got
    [image] = got["images"]
    assert image["imageId"] == {"imageDigest": digest}, image["imageId"]
    assert image["imageManifest"] == referrer and sha256(image["imageManifest"].encode()) == digest
    assert image["imageManifestMediaType"] == OCI_MANIFEST, image
    ids = ecr.list_images(repositoryName="referred", filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert {"imageDigest": digest} in ids, ids


@check
def ecr_image_referrers_listed_filtered_and_paged(aws):
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="signed")
    subject = oci_manifest(b"subject layer")
    ecr.put_image(repositoryName="signed", imageManifest=subject, imageTag="v1", imageManifestMediaType=OCI_MANIFEST)
    sig = oci_manifest(b"signature", subject, SIGSTORE, annotations={"dev.sigstore.bundle.predicateType": "x"})
    sbom_config = {"mediaType": SBOM, "digest": sha256(b"sbom config"), "size": 11}
    sbom = oci_manifest(b"sbom", subject, config=sbom_config)  # no artifactType: the config's media type
    unrelated = oci_manifest(b"other", oci_manifest(b"another subject"), SIGSTORE)
    digests = {name: put_referrer(ecr, "signed", m) for name, m in
               (("sig", sig), ("sbom", sbom), ("unrelated", unrelated))}
    out = ecr.list_image_referrers(repositoryName="signed", subjectId={"imageDigest": sha256(subject.encode())})
    assert "nextToken" not in out, out
    want = sorted([
        {"digest": digests["sig"], "mediaType": OCI_MANIFEST, "size": len(sig.encode()), "artifactType": SIGSTORE,
         "annotations": {"dev.sigstore.bundle.predicateType": "x"}, "artifactStatus": "ACTIVE"},
        {"digest": digests["sbom"], "mediaType": OCI_MANIFEST, "size": len(sbom.encode()), "artifactType": SBOM,
         "artifactStatus": "ACTIVE"}], key=lambda r: r["digest"])
    assert out["referrers"] == want, out
    out = ecr.list_image_referrers(repositoryName="signed", subjectId={"imageDigest": sha256(subject.encode())},
                                   filter={"artifactTypes": [SIGSTORE]})
    assert [r["digest"] for r in out["referrers"]] == [digests["sig"]], out
    out = ecr.list_image_referrers(repositoryName="signed", subjectId={"imageDigest": sha256(b"no such image")})
    assert out["referrers"] == [], out
    # A third referrer: two pages of two and one.
    third = put_referrer(ecr, "signed", oci_manifest(b"attestation", subject, "application/vnd.in-toto+json"))
    seen, token, pages = [], None, 0
    while True:
        more = {"nextToken": token} if token else {}
        out = ecr.list_image_referrers(repositoryName="signed", subjectId={"imageDigest": sha256(subject.encode())},
                                       maxResults=2, **more)
        pages += 1
        seen += [r["digest"] for r in out["referrers"]]
        token = out.get("nextToken")
        if not token:
            break
        assert len(out["referrers"]) == 2, out
    assert pages == 2 and seen == sorted([digests["sig"], digests["sbom"], third]), (pages, seen)
    calls = aws.calls(service="ecr", operation="ListImageReferrers")
    assert calls[-1]["request"]["maxResults"] == 2 and calls[-1]["status"] == 200, calls[-1]


@check
def ecr_image_referrers_errors(aws):
    ecr = aws.client("ecr")
    subject = {"imageDigest": sha256(b"x")}
    expect_error("RepositoryNotFoundException", 400, ecr.list_image_referrers, repositoryName="nope",
                 subjectId=subject)
    expect_error("RepositoryNotFoundException", 400, ecr.list_image_referrers, repositoryName="signed",
                 subjectId=subject, registryId="210987654321")
    expect_error("InvalidParameterException", 400, ecr.list_image_referrers, repositoryName="signed",
                 subjectId={"imageDigest": "not a digest"})
    expect_error("InvalidParameterException", 400, ecr.list_image_referrers, repositoryName="signed",
                 subjectId=subject, filter={"artifactTypes": [f"type/{n}" for n in range(6)]})
    expect_error("InvalidParameterException", 400, ecr.list_image_referrers, repositoryName="signed",
                 subjectId=subject, nextToken="garbage")
    raw = aws.client("ecr")
    raw.meta.events.register("before-parameter-build.ecr.ListImageReferrers",
                             lambda params, **_: params.update(maxResults=51))  # past botocore's own check
    expect_error("InvalidParameterException", 400, raw.list_image_referrers, repositoryName="signed",
                 subjectId=subject)
    aws.fault(service="ecr", operation="ListImageReferrers", kind="throttle")
    expect_error("ThrottlingException", 400, ecr.list_image_referrers, repositoryName="signed", subjectId=subject)
    assert aws.calls(operation="ListImageReferrers")[-1]["fault"] == "throttle"


PROFILE_VERSION = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/images/a1b2c3"
JOB = "arn:aws:signer:us-east-1:123456789012:/signing-jobs/0f8e1c2a-1111-2222-3333-444455556666"


@check
def signer_revocation_status(aws):
    # The SDKs put GetRevocationStatus's host prefix "data-" before the endpoint's host.
    signer = aws.session.client("signer", endpoint_url=aws.url,
                                config=aws.config.merge(Config(inject_host_prefix=False)))
    query = {"signatureTimestamp": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
             "platformId": "Notation-OCI-SHA384-ECDSA", "profileVersionArn": PROFILE_VERSION, "jobArn": JOB,
             "certificateHashes": ["aa11", "bb22"]}
    assert signer.get_revocation_status(**query)["revokedEntities"] == []
    assert aws.ctl("POST", "/signer/revocations", {"revoked": [PROFILE_VERSION]}) == (
        200, {"account": "123456789012", "revoked": [PROFILE_VERSION]})
    assert signer.get_revocation_status(**query)["revokedEntities"] == [PROFILE_VERSION]
    aws.ctl("POST", "/signer/revocations", {"revoked": ["bb22"]})
    assert signer.get_revocation_status(**query)["revokedEntities"] == [PROFILE_VERSION, "bb22"]
    # The call log names the region each call was signed for.
    assert [c["region"] for c in aws.calls() if c["operation"] == "GetRevocationStatus"][-1] == "us-east-1"
    # Another account's revocations are its own.
    assert aws.ctl("POST", "/signer/revocations", {"account": "222233334444", "revoked": [JOB]})[0] == 200
    assert signer.get_revocation_status(**query)["revokedEntities"] == [PROFILE_VERSION, "bb22"]
    assert aws.ctl("DELETE", "/signer/revocations?account=123456789012") == (200, {"ok": True})
    assert signer.get_revocation_status(**{**query, "certificateHashes": ["aa11"]})["revokedEntities"] == []
    assert aws.ctl("GET", "/signer/revocations?account=222233334444")[1]["revoked"] == [JOB]
    aws.ctl("DELETE", "/signer/revocations")
    assert aws.ctl("GET", "/signer/revocations?account=222233334444")[1]["revoked"] == []
    # A missing field, sent by hand (botocore checks required fields itself).
    url = (aws.url + "/revocations?signatureTimestamp=2026-01-01T00%3A00%3A00Z&platformId=p"
           f"&profileVersionArn={PROFILE_VERSION}&certificateHashes=aa11")
    req = urllib.request.Request(url, headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/signer/aws4_request, Signature=x"})
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("expected HTTP 400")
    except urllib.error.HTTPError as err:
        assert err.code == 400 and err.headers["x-amzn-ErrorType"] == "ValidationException", err.headers
        assert "jobArn" in json.loads(err.read())["message"]
    calls = aws.calls(service="signer")
    assert [c["operation"] for c in calls] == ["GetRevocationStatus"] * 6, calls
    assert calls[0]["request"]["certificateHashes"] == ["aa11", "bb22"], calls[0]
    assert calls[0]["request"]["profileVersionArn"] == PROFILE_VERSION and calls[-1]["status"] == 400, calls
    aws.fault(service="signer", operation="GetRevocationStatus", kind="throttle")
    expect_error("ThrottlingException", 400, signer.get_revocation_status, **query)
    assert aws.calls(service="signer")[-1]["fault"] == "throttle"


@check
def kms_signatures_verify(aws):
    kms = aws.client("kms")
    message = b"manifest digest to sign"
    for spec, algorithm in (("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256")):
        key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        assert key["KeySpec"] == spec and algorithm in key["SigningAlgorithms"], key
        signed = kms.sign(KeyId=key["KeyId"], Message=message, MessageType="RAW", SigningAlgorithm=algorithm)
        public = kms.get_public_key(KeyId=key["KeyId"])
        assert public["KeySpec"] == spec and public["KeyUsage"] == "SIGN_VERIFY", public
        der, signature = public["PublicKey"], signed["Signature"]
        assert der[0] == 0x30 and (signature[0] == 0x30 or not spec.startswith("ECC")), (der, signature)
        try:
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec, padding
        except ImportError:
            continue
        loaded = serialization.load_der_public_key(der)  # DER SubjectPublicKeyInfo
        if spec.startswith("ECC"):
            assert loaded.curve.name == "secp256r1", loaded.curve.name
            loaded.verify(signature, message, ec.ECDSA(hashes.SHA256()))  # DER ECDSA-Sig-Value
        else:
            assert loaded.key_size == 2048 and len(signature) == 256, len(signature)
            loaded.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        assert kms.verify(KeyId=key["KeyId"], Message=message, Signature=signature,
                          SigningAlgorithm=algorithm)["SignatureValid"]


@check
def moto_not_implemented_passes_through(aws):
    req = urllib.request.Request(aws.url + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.NoSuchOperation",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/ecr/aws4_request, Signature=x"})
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("expected HTTP 500")
    except urllib.error.HTTPError as err:
        assert err.code == 500 and "html" in err.headers.get("Content-Type", ""), err.headers
    assert aws.calls(operation="NoSuchOperation")[-1]["status"] == 500


@check
def call_log_order_and_reset(aws):
    seqs = [c["seq"] for c in aws.calls()]
    assert seqs == sorted(seqs) and len(seqs) > 10
    assert not any(c["operation"].startswith("GET /_local") for c in aws.calls())
    aws.ctl("POST", "/signer/revocations", {"revoked": [JOB]})
    assert aws.ctl("POST", "/reset", {}) == (200, {"ok": True})
    assert aws.calls() == [] and aws.ctl("GET", "/jobs")[1] == {}
    assert aws.ctl("GET", "/signer/revocations")[1] == {"account": "123456789012", "revoked": []}
    assert aws.ctl("GET", "/state")[1] == {"pipelines": {}, "alarms": []}
    assert aws.ctl("GET", "/ecr/blobs")[1] == []
    assert aws.ctl("GET", "/ecr/settings")[1] == {"partSize": 10485760, "minPartSize": 5242880}
    assert aws.client("ecr").describe_repositories()["repositories"]
    aws.ctl("POST", "/reset", {"moto": True})
    assert aws.client("ecr").describe_repositories()["repositories"] == []


def idle_overhead_ms(aws):
    sts = aws.client("sts")
    samples = []
    for _ in range(30):
        began = time.perf_counter()
        sts.get_caller_identity()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def main():
    proc, port = start_emulator()
    aws = Emulator(port)
    passed = failed = 0
    try:
        for fn in CHECKS:
            try:
                fn(aws)
                passed += 1
                print(f"ok   {fn.__name__}")
            except Exception as exc:
                failed += 1
                print(f"FAIL {fn.__name__}: {type(exc).__name__}: {exc}")
        print(f"info median GetCallerIdentity round trip: {idle_overhead_ms(aws):.1f} ms")
        # The emulator must exit once its stdin reaches EOF (its parent is gone).
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
            passed += 1
            print("ok   exits_on_stdin_eof")
        except subprocess.TimeoutExpired:
            failed += 1
            print("FAIL exits_on_stdin_eof: still running 5 s after stdin closed")
    finally:
        if proc.poll() is None:
            proc.kill()
    other, _ = start_emulator()
    other.send_signal(signal.SIGTERM)
    try:
        other.wait(timeout=5)
        passed += 1
        print("ok   exits_on_sigterm")
    except subprocess.TimeoutExpired:
        other.kill()
        failed += 1
        print("FAIL exits_on_sigterm")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
