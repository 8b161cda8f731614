"""The rehearsal's side of the local AWS: what CodeDeploy, ECS and the load balancer do
while a release goes out, played along the release's script.

The rehearsal (tests/src/rehearsal/) plays CodePipeline and invokes the real function
binaries; this module plays the services those functions watch and act on:

- CodeDeploy ECS blue/green deployments: green tasks, the appspec's Lambda hooks (the
  rehearsal invokes them and says when; the answer is the hook's recorded
  PutLifecycleEventHookExecutionStatus), traffic shift, the service's task definition,
  and a rollback when a hook fails;
- CodeDeploy EC2/on-premises deployments: each instance through its lifecycle events
  over time, a failing ValidateService with the script's diagnostics, automatic
  rollback, StopDeployment with rollback (deployment histories' built-in); or, for a
  group with `agent: true`, each instance as its agent reports it (the rehearsal runs
  the revision's hooks for real): nothing moves on by time, and the rollbacks too are
  left to the agent;
- ECS native blue/green service deployments: the lifecycle stages, the hooks'
  IN_PROGRESS/SUCCEEDED/FAILED answers, ECS's own rollback (the traffic-shift hooks
  called again with the weights reversed);
- ELBv2 target health of the green target groups and CloudWatch alarm states, with the
  alarm state changes that EventBridge would deliver.

Deployments live in the deployment histories (local_aws.DeploymentHistories), so the
rollback trigger reads and writes them as any other; the reads the health gate makes of
them (ListDeployments, ListDeploymentTargets, BatchGetDeploymentTargets, GetDeployment
with its instance overview) are answered here. Everything played belongs to one account,
as in the emulator: `account` on a group, an alarm or the request (world, codedeploy,
ecs), else the account in a target group's ARN, else 123456789012; and to one region
(`region` on an alarm or an ECS play, a target group's ARN, else the home region); a call
sees only its own account's and region's.

Control API (JSON), under /_local/rehearsal/:
  POST reset                     forget the rehearsal's groups, plays and events
  POST world                     {account?, codedeployGroups: [{application, group, platform ECS|Server,
                                 cluster?, service?, targetGroups?, instances?, alarm?,
                                 initialRevision?, account?, agent?}], alarms: [{name, tags, account?, region?}],
                                 targetHealth: {arn: [targets]}}
  POST script                    the next releases' script: {targets: healthy|unhealthy,
                                 alarmAfterShift, failInstance, failEvent, failStep}
  POST codedeploy                {application, group, revision, hooks: [{event, function}], account?}
                                 -> {deploymentId}
  GET  codedeploy/<id>           {status, hook?: {event, function, executionId}, instances, ...}
  POST codedeploy/<id>/hook-done the pending hook was invoked: go on with its recorded answer
  POST codedeploy/<id>/instance  {instance, status: InProgress|Succeeded|Failed, lifecycleEvents}: what
                                 the CodeDeploy agent on an instance of a group with `agent: true`
                                 reports; the deployment succeeds once every instance did, and fails
                                 (with automatic rollback to the previous revision) when one failed
  POST ecs                       {cluster, service, hooks: [{stage, function, hookDetails?}],
                                 targetGroups, account?, region?, alarm?, steps?} after UpdateService;
                                 steps (linear/canary: production percents, the last 100)
                                 invoke a PRODUCTION_TRAFFIC_SHIFT hook at every step, and the
                                 script's failStep k turns the new tasks unhealthy from step k
                                 -> {serviceDeploymentArn}; with no hooks it ends at once, and
                                 with alarmAfterShift `alarm` then goes to ALARM
  GET  ecs                       {serviceDeploymentArn} -> {status, hook?: the hook's event + function}
  POST ecs/answer                {serviceDeploymentArn, answer: the hook's return value}
  GET  events                    the alarm state changes since the last read (for EventBridge),
                                 each with its alarm's account and region
"""

import copy
import re
import time
import uuid

CD = "CodeDeploy_20141006"
ECS = "AmazonEC2ContainerServiceV20141113"
# The in-place lifecycle events of one instance, in order.
EC2_EVENTS = ("ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
              "ApplicationStart", "ValidateService")
# ECS native blue/green stages that may have hooks, in order.
ECS_STAGES = ("RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
              "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT")
# The stages ECS calls again, weights reversed, while it rolls back.
ECS_ROLLBACK_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
TASK_DEFINITION = re.compile(r"TaskDefinition[\"']?\s*:\s*[\"']?(arn:aws:ecs:[^\"'\s,}]+)")
# How long things take here (seconds): an instance's lifecycle event, a rollback, the
# wait after a failed instance before CodeDeploy gives up on the deployment.
EVENT_SECONDS = 0.12
ROLLBACK_SECONDS = 0.5
GIVE_UP_SECONDS = 4.0
DEFAULT_SCRIPT = {"targets": "healthy", "alarmAfterShift": False, "failInstance": None,
                  "failEvent": "ValidateService", "failStep": None}


def install(app, lib):
    """Adds the rehearsal to the emulator `app`; `lib` is the local_aws module."""
    app.rehearsal = Rehearsal(app, lib)
    ours = {
        (CD, "GetDeployment"): app.rehearsal.get_deployment,
        (CD, "ListDeployments"): app.rehearsal.list_deployments,
        (CD, "ListDeploymentTargets"): app.rehearsal.list_deployment_targets,
        (CD, "BatchGetDeploymentTargets"): app.rehearsal.batch_get_deployment_targets,
    }
    for key, handler in ours.items():
        fallback = app.builtins.get(key)
        app.builtins[key] = handler if fallback is None else lib._chain(handler, fallback)


class Rehearsal:
    def __init__(self, app, lib):
        self.app, self.lib = app, lib
        self.clear()

    def clear(self):
        # (account, "application/group") -> {"platform", "cluster", "service", "targetGroups",
        # "instances", "alarm"}
        self.groups = {}
        # deployment id -> how it plays (with its "account")
        self.plays = {}
        # service deployment ARN -> how it plays (with its "account")
        self.ecs_plays = {}
        self.script = dict(DEFAULT_SCRIPT)
        self.events = []

    # ---------------------------------------------------------------- control API

    def control(self, method, path, data):
        """(status, body) for /_local/rehearsal/<path>."""
        route = path[len("/rehearsal"):].strip("/").split("/")
        with self.app.lock:
            if (method, route) == ("POST", ["reset"]):
                self.clear()
                return 200, {"ok": True}
            if (method, route) == ("POST", ["world"]):
                return 200, self._world(data)
            if (method, route) == ("POST", ["script"]):
                unknown = set(data) - set(DEFAULT_SCRIPT)
                if unknown:
                    raise ValueError(f"unknown script keys {sorted(unknown)}; accepted: {sorted(DEFAULT_SCRIPT)}")
                self.script = {**DEFAULT_SCRIPT, **data}
                return 200, self.script
            if (method, route) == ("GET", ["events"]):
                events, self.events = self.events, []
                return 200, events
            if (method, route) == ("POST", ["codedeploy"]):
                return 200, self._start_codedeploy(data)
            if method == "GET" and len(route) == 2 and route[0] == "codedeploy":
                return self._codedeploy_view(route[1])
            if method == "POST" and len(route) == 3 and route[0] == "codedeploy" and route[2] == "hook-done":
                return self._hook_done(route[1])
            if method == "POST" and len(route) == 3 and route[0] == "codedeploy" and route[2] == "instance":
                return self._instance_report(route[1], data)
            if (method, route) == ("POST", ["ecs"]):
                return 200, self._start_ecs(data)
            if (method, route) == ("GET", ["ecs"]):
                return self._ecs_view(data.get("serviceDeploymentArn"))
            if (method, route) == ("POST", ["ecs", "answer"]):
                return self._ecs_answer(data)
        return 404, {"error": f"no rehearsal endpoint {method} {path}"}

    def _account(self, spec, named=None, arn=None):
        """The account a group, alarm or request belongs to (local_aws._owner)."""
        return self.lib._owner(self.lib._seed_account(spec) or named, arn)

    def _world(self, data):
        """Deployment groups (with the deployment their service runs now), alarms with
        their tags, target groups with their targets."""
        named = self.lib._seed_account(data)
        for g in data.get("codedeployGroups", []):
            account, key = self._account(g, named), f"{g['application']}/{g['group']}"
            a = self.app._in(account)
            self.groups[(account, key)] = {
                "platform": g.get("platform", "ECS"), "cluster": g.get("cluster"), "service": g.get("service"),
                "targetGroups": g.get("targetGroups", []), "instances": g.get("instances", []),
                "alarm": g.get("alarm"), "agent": bool(g.get("agent"))}
            deployments = a.cd_groups.setdefault(key, [])
            if g.get("initialRevision") and not deployments:
                d = a.cd_add(key, f"d-{uuid.uuid4().hex[:9].upper()}", "Succeeded", g["initialRevision"],
                             time.time() - 86400, "user", "initial release")
                self.plays[d["deploymentId"]] = {"platform": self.groups[(account, key)]["platform"],
                                                 "account": account, "group": key, "done": True, "instances": {}}
        for tg, targets in data.get("targetHealth", {}).items():
            self._set_targets(self.lib._owner(named, tg), tg, targets)
        for alarm in data.get("alarms", []):
            account, region = self._account(alarm, named), alarm.get("region")
            self._set_alarm(account, alarm["name"], "OK", "rehearsal start", record=False, region=region)
            if alarm.get("tags"):
                arn = self._alarm_arn(account, alarm["name"], region)
                self.app._in(account, region).alarm_tags[arn] = dict(alarm["tags"])
        return {"groups": sorted(key for _, key in self.groups)}

    # ---------------------------------------------------------------- CodeDeploy

    def _start_codedeploy(self, data):
        """A deployment as the CodeDeploy deploy actions create it: `hooks` are the
        appspec's Lambda hooks [{event, function}] (ECS platform)."""
        account, key = self._account(data), f"{data['application']}/{data['group']}"
        group = self.groups.get((account, key))
        if group is None:
            raise ValueError(f"deployment group {key} of account {account} is not part of the rehearsal's world")
        a = self.app._in(account)
        active = [d for d in a.cd_groups[key] if d["status"] in self.lib.CODEDEPLOY_ACTIVE]
        if active:
            raise ValueError(f"deployment group {key} has an active deployment {active[0]['deploymentId']}")
        d = a.cd_add(key, f"d-{uuid.uuid4().hex[:9].upper()}", "InProgress", data.get("revision") or {},
                     time.time(), "CodePipeline", data.get("description"))
        play = {"platform": group["platform"], "account": account, "group": key, "started": time.time(),
                "script": dict(self.script),
                "hooks": [dict(h, executionId=uuid.uuid4().hex) for h in data.get("hooks", [])],
                "done": False, "instances": {}, "phase": "Install", "agent": group.get("agent", False)}
        self.plays[d["deploymentId"]] = play
        if not play["agent"]:
            # An agent's group: the rehearsal plays the load balancer's health checks itself.
            for tg in group["targetGroups"]:
                self._set_targets(account, tg, self._green_targets(play["script"]))
        return {"deploymentId": d["deploymentId"]}

    def _green_targets(self, script):
        state = "unhealthy" if script["targets"] == "unhealthy" else "healthy"
        reason = {"reason": "Target.ResponseCodeMismatch",
                  "description": "Health checks failed with these codes: [502]"} if state == "unhealthy" else {}
        return [dict({"id": f"10.0.2.{10 + i}", "port": 8080, "state": state}, **reason) for i in range(2)]

    def _tick(self, account, d):
        """Moves a deployment of `account` on along its play (lock held)."""
        play = self.plays.get(d["deploymentId"])
        key = f"{d['applicationName']}/{d['deploymentGroupName']}"
        if play is None and (account, key) in self.groups:
            # A deployment made through the API (a rollback by the rollback trigger, or
            # CodeDeploy's own): it plays without hooks.
            play = {"platform": self.groups[(account, key)]["platform"], "account": account, "group": key,
                    "started": d["createTime"], "script": dict(DEFAULT_SCRIPT), "hooks": [], "done": False,
                    "instances": {}, "phase": "Install", "rollback": True,
                    "agent": self.groups[(account, key)].get("agent", False)}
            self.plays[d["deploymentId"]] = play
        if play is None or play["done"]:
            return
        if d["status"] not in self.lib.CODEDEPLOY_ACTIVE:
            play["done"] = True
            return
        if play.get("agent"):
            return  # moved on by the agent's reports only
        elapsed = time.time() - play["started"]
        if play.get("rollback") and elapsed >= ROLLBACK_SECONDS:
            self._succeed(d, play)
        elif play["platform"] == "Server" and not play.get("rollback"):
            self._tick_instances(d, play, elapsed)
        elif play["platform"] != "Server" and not play["hooks"] and elapsed >= ROLLBACK_SECONDS:
            self._succeed(d, play)

    def _tick_instances(self, d, play, elapsed):
        group = self.groups[(play["account"], play["group"])]
        script = play["script"]
        per_instance = EVENT_SECONDS * len(EC2_EVENTS)
        failed_at = None
        for i, instance in enumerate(group["instances"]):
            done = int(max(0.0, elapsed - i * per_instance) / EVENT_SECONDS)
            events = []
            status = "Pending" if done == 0 and i > 0 else "InProgress"
            for n, name in enumerate(EC2_EVENTS):
                if n < done:
                    if instance == script.get("failInstance") and name == script.get("failEvent"):
                        events.append(_failed_event(name))
                        status = "Failed"
                        failed_at = failed_at or (i * per_instance + (n + 1) * EVENT_SECONDS)
                        break
                    events.append({"lifecycleEventName": name, "status": "Succeeded"})
                else:
                    events.append({"lifecycleEventName": name, "status": "Pending"})
            if status != "Failed" and done >= len(EC2_EVENTS):
                status = "Succeeded"
            play["instances"][instance] = {"status": status, "lifecycleEvents": events}
            if status == "Failed":
                break  # CodeDeploy deploys no further instance after a failure
        statuses = [t["status"] for t in play["instances"].values()]
        if failed_at is not None and elapsed >= failed_at + GIVE_UP_SECONDS:
            self._fail(d, play, "HEALTH_CONSTRAINTS",
                       "The overall deployment failed because too many individual instances failed deployment")
        elif len(statuses) == len(group["instances"]) and all(s == "Succeeded" for s in statuses):
            self._succeed(d, play)

    def _succeed(self, d, play):
        d["status"] = "Succeeded"
        d["completeTime"] = time.time()
        play["done"] = True
        group = self.groups[(play["account"], play["group"])]
        if play["platform"] == "Server":
            for instance in group["instances"]:
                if not play.get("agent"):  # an agent's instances are as it reported them
                    play["instances"][instance] = {"status": "Succeeded", "lifecycleEvents": [
                        {"lifecycleEventName": e, "status": "Succeeded"} for e in EC2_EVENTS]}
        else:
            task_definition = _task_definition(d.get("revision"))
            if task_definition and group.get("service"):
                self._moto_ecs(play["account"], "UpdateService", {
                    "cluster": group.get("cluster") or "default", "service": group["service"],
                    "taskDefinition": task_definition})
        if play["script"].get("alarmAfterShift") and group.get("alarm") and not play.get("rollback"):
            self._set_alarm(play["account"], group["alarm"], "ALARM",
                            "Threshold Crossed: 1 out of the last 1 datapoints [12.5] was greater than the threshold (5.0).")

    def _fail(self, d, play, code, message):
        """The deployment fails; with automatic rollback, CodeDeploy redeploys the
        previous revision (a new deployment)."""
        d["status"] = "Failed"
        d["errorInformation"] = {"code": code, "message": message}
        play["done"] = True
        a = self.app._in(play["account"])
        previous = a.cd_info(d).get("previousRevision")
        if previous is not None and "rollbackInfo" not in d:
            rollback = a.cd_add(play["group"], f"d-{uuid.uuid4().hex[:9].upper()}", "InProgress", previous,
                                time.time(), "codeDeployRollback", None)
            rollback["rollbackInfo"] = {"rollbackTriggeringDeploymentId": d["deploymentId"]}
            d["rollbackInfo"] = {"rollbackDeploymentId": rollback["deploymentId"]}

    def _instance_report(self, deployment_id, data):
        """An instance's agent reports its lifecycle events (a group with `agent: true`):
        one failed instance fails the deployment (HEALTH_CONSTRAINTS, then the automatic
        rollback); every instance succeeded, the deployment succeeds. A report on a
        deployment that ended (stopped meanwhile) changes nothing."""
        account, d = self._find(deployment_id)
        play = self.plays.get(deployment_id)
        if d is None or play is None:
            return 404, {"error": f"no deployment {deployment_id}"}
        if not play.get("agent"):
            return 409, {"error": f"deployment {deployment_id} is not played by an agent (its group has no agent: true)"}
        group = self.groups[(play["account"], play["group"])]
        instance, status = data.get("instance"), data.get("status")
        if instance not in group["instances"]:
            return 400, {"error": f"{instance!r} is not an instance of {play['group']}: {group['instances']}"}
        if status not in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped"):
            return 400, {"error": f"unknown instance status {status!r}"}
        if d["status"] in self.lib.CODEDEPLOY_ACTIVE:
            play["instances"][instance] = {"status": status,
                                           "lifecycleEvents": copy.deepcopy(data.get("lifecycleEvents") or [])}
            statuses = [play["instances"].get(i, {}).get("status") for i in group["instances"]]
            if status == "Failed":
                self._fail(d, play, "HEALTH_CONSTRAINTS",
                           "The overall deployment failed because too many individual instances failed deployment")
            elif all(s == "Succeeded" for s in statuses):
                self._succeed(d, play)
        return self._codedeploy_view(deployment_id)

    def _find(self, deployment_id):
        """(account, deployment) of a deployment id in any account (ids are unique), or
        (None, None)."""
        for (account, _), a in self.app.accounts.items():
            d = a.cd_find(deployment_id)
            if d is not None:
                return account, d
        return None, None

    def _codedeploy_view(self, deployment_id):
        account, d = self._find(deployment_id)
        if d is None:
            return 404, {"error": f"no deployment {deployment_id}"}
        self._tick(account, d)
        play = self.plays.get(deployment_id, {})
        view = {"deploymentId": deployment_id, "status": d["status"],
                "errorInformation": d.get("errorInformation"), "rollbackInfo": d.get("rollbackInfo"),
                "instances": copy.deepcopy(play.get("instances", {}))}
        hook = next((h for h in play.get("hooks", []) if not h.get("answered")), None)
        if hook is not None and d["status"] in self.lib.CODEDEPLOY_ACTIVE:
            view["hook"] = {k: hook[k] for k in ("event", "function", "executionId")}
        return 200, view

    def _hook_done(self, deployment_id):
        """The rehearsal invoked the pending hook: CodeDeploy goes on with what the hook
        answered (PutLifecycleEventHookExecutionStatus), and fails the deployment, with
        rollback, on Failed or no answer."""
        _, d = self._find(deployment_id)
        play = self.plays.get(deployment_id)
        if d is None or play is None:
            return 404, {"error": f"no deployment {deployment_id}"}
        hook = next((h for h in play["hooks"] if not h.get("answered")), None)
        if hook is None:
            return 409, {"error": "no hook is pending"}
        answer = self.app.hooks.get(f"{deployment_id}/{hook['executionId']}")
        hook["answered"] = answer["status"] if answer else "NotAnswered"
        if hook["answered"] != "Succeeded":
            self._fail(d, play, "HOOK_EXECUTION_FAILURE",
                       f"lifecycle event {hook['event']} ended {hook['answered']} (hook {hook['function']})")
        elif all(h.get("answered") for h in play["hooks"]):
            self._succeed(d, play)
        return self._codedeploy_view(deployment_id)

    # ---- the health gate's reads of rehearsed deployments (each raises Forward otherwise)

    def _owned(self, call, deployment_id):
        """A rehearsed deployment of the caller's account, moved on (else Forward)."""
        with self.app.lock:
            account = call.account or self.lib._caller_account(call)
            d = self.app._in(account).cd_find(deployment_id)
            if d is None or (account, f"{d['applicationName']}/{d['deploymentGroupName']}") not in self.groups:
                raise self.lib.Forward()
            self._tick(account, d)
            return d, self.plays.get(deployment_id, {})

    def get_deployment(self, req, call):
        d, play = self._owned(call, req.get("deploymentId"))
        with self.app.lock:
            info = self.app._in(call).cd_info(d)
        if play.get("platform") != "Server":
            # An ECS deployment's one target is the service's task set.
            word = {"Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Failed"}.get(d["status"], "InProgress")
            info["deploymentOverview"] = {"Pending": 0, "InProgress": 0, "Succeeded": 0, "Failed": 0,
                                          "Skipped": 0, "Ready": 0, word: 1}
        else:
            counts = {"Pending": 0, "InProgress": 0, "Succeeded": 0, "Failed": 0, "Skipped": 0, "Ready": 0}
            instances = self.groups[(play["account"], play["group"])]["instances"]
            for instance in instances:
                status = play["instances"].get(instance, {}).get("status", "Pending")
                counts[status] = counts.get(status, 0) + 1
            info["deploymentOverview"] = counts
        return {"deploymentInfo": info}

    def list_deployments(self, req, call):
        key = f"{req.get('applicationName')}/{req.get('deploymentGroupName')}"
        with self.app.lock:
            a = self.app._in(call)
            if (a.account, key) not in self.groups:
                raise self.lib.Forward()
            deployments = sorted(a.cd_groups.get(key, []), key=lambda d: -d["createTime"])
            return {"deployments": [d["deploymentId"] for d in deployments]}

    def list_deployment_targets(self, req, call):
        _, play = self._owned(call, req.get("deploymentId"))
        wanted = (req.get("targetFilters") or {}).get("TargetStatus")
        return {"targetIds": [t for t, target in play.get("instances", {}).items()
                              if not wanted or target["status"] in wanted]}

    def batch_get_deployment_targets(self, req, call):
        deployment_id = req.get("deploymentId")
        _, play = self._owned(call, deployment_id)
        targets = []
        for target_id in req.get("targetIds") or []:
            target = play.get("instances", {}).get(target_id)
            if target is None:
                raise self.lib.ApiError("DeploymentTargetDoesNotExistException",
                                        f"The target {target_id} could not be found")
            targets.append({"deploymentTargetType": "InstanceTarget", "instanceTarget": {
                "targetId": target_id, "deploymentId": deployment_id, **copy.deepcopy(target)}})
        return {"deploymentTargets": targets}

    # ---------------------------------------------------------------- ECS native blue/green

    def _start_ecs(self, data):
        """Plays the service deployment that UpdateService just started: `hooks`
        [{stage, function, hookDetails?}], `targetGroups` the green target groups."""
        account, key = self._account(data), f"{data.get('cluster') or 'default'}/{data['service']}"
        region = data.get("region") or self.lib._default_region()
        a = self.app._in(account, region)
        deployments = [d for d in a.ecs_deployments.get(key, []) if d["status"] in self.lib.ECS_ACTIVE]
        if not deployments:
            raise ValueError(f"service {key} has no deployment in progress: call UpdateService first")
        d = deployments[-1]
        hooked = {h["stage"] for h in data.get("hooks", [])}
        unknown = hooked - set(ECS_STAGES)
        if unknown:
            raise ValueError(f"unknown lifecycle stages {sorted(unknown)}; ECS has {list(ECS_STAGES)}")
        # A linear or canary deployment shifts production traffic in steps (the percent of
        # each, the last 100): a PRODUCTION_TRAFFIC_SHIFT hook is invoked at every step.
        steps = data.get("steps") or [100]
        if not all(isinstance(w, (int, float)) and 0 < w <= 100 for w in steps) or steps[-1] != 100:
            raise ValueError(f"steps must be production traffic percents ending at 100, not {steps!r}")
        stages = []
        for s in (s for s in ECS_STAGES if s in hooked):
            hook = next(h for h in data["hooks"] if h["stage"] == s)
            if s == "PRODUCTION_TRAFFIC_SHIFT" and len(steps) > 1:
                stages += [{"stage": s, **hook, "step": k, "weight": w} for k, w in enumerate(steps, 1)]
            else:
                stages.append({"stage": s, **hook})
        # The green tasks are up (as after POST_SCALE_UP), behind the green target groups.
        d["targetServiceRevision"].update({"requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0})
        revision = a.ecs_revisions.get(d["targetServiceRevision"]["arn"])
        if revision is not None:
            revision["resolvedConfiguration"] = {"loadBalancers": [
                {"targetGroupArn": tg, "productionListenerRule": None} for tg in data.get("targetGroups", [])]}
        play = self.ecs_plays[d["serviceDeploymentArn"]] = {
            "account": account, "region": region, "alarm": data.get("alarm"), "key": key, "cluster": data.get("cluster") or "default", "service": data["service"],
            "stages": stages, "index": 0, "details": {}, "rollingBack": False, "script": dict(self.script),
            "targetGroups": list(data.get("targetGroups", []))}
        for tg in data.get("targetGroups", []):
            self._set_targets(account, tg, self._green_targets(self.script))
        if not stages:
            # No lifecycle hook: the deployment ends as soon as the new tasks are up.
            self._ecs_finish(d, play)
        return {"serviceDeploymentArn": d["serviceDeploymentArn"]}

    def _ecs_view(self, arn):
        play = self.ecs_plays.get(arn)
        if play is None:
            return 404, {"error": f"no rehearsed service deployment {arn}"}
        d = self.app._in(play["account"], play["region"]).ecs_find(arn)
        view = {"serviceDeploymentArn": arn, "status": d["status"]}
        stages = self._ecs_stages(play)
        if play["index"] < len(stages) and d["status"] in ("IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
            view["hook"] = self._ecs_event(d, play, stages[play["index"]])
        return 200, view

    def _ecs_stages(self, play):
        if play["rollingBack"]:
            return [s for s in play["stages"] if s["stage"] in ECS_ROLLBACK_STAGES and s.get("step", 1) == 1]
        return play["stages"]

    def _ecs_event(self, d, play, stage):
        target = d["targetServiceRevision"]["arn"]
        source = (d.get("sourceServiceRevisions") or [{}])[0].get("arn")
        weights = {}
        if source:
            weights = {target: 0, source: 100} if play["rollingBack"] else {target: 100, source: 0}
        name = stage["stage"]
        if "weight" in stage and source and not play["rollingBack"]:
            weights = {target: stage["weight"], source: round(100 - stage["weight"], 1)}
            fail_step = play["script"].get("failStep")
            if fail_step and stage["step"] >= fail_step and not play.get("stepFailed"):
                # The new tasks go bad once this step's traffic reaches them.
                play["stepFailed"] = True
                for tg in play["targetGroups"]:
                    self._set_targets(play["account"], tg,
                                      self._green_targets(dict(play["script"], targets="unhealthy")))
        event = {"executionId": stage.setdefault("executionId", str(uuid.uuid4())), "lifecycleStage": name,
                 "resourceArn": d["serviceDeploymentArn"],
                 "executionDetails": {"serviceArn": d["serviceArn"], "targetServiceRevisionArn": target,
                                      "testTrafficWeights": weights if name == "TEST_TRAFFIC_SHIFT" else {},
                                      "productionTrafficWeights": weights if name == "PRODUCTION_TRAFFIC_SHIFT" else {}},
                 "function": stage["function"]}
        details = {**(stage.get("hookDetails") or {}), **play["details"].get(_detail_key(stage), {})}
        if details:
            event["hookDetails"] = details
        return event

    def _ecs_answer(self, data):
        """The hook's answer (its return value; {"error": ...} when the invocation
        failed): SUCCEEDED goes on, IN_PROGRESS asks again with the returned hookDetails
        merged, anything else rolls back."""
        arn = data.get("serviceDeploymentArn")
        play = self.ecs_plays.get(arn)
        if play is None:
            return 404, {"error": f"no rehearsed service deployment {arn}"}
        d = self.app._in(play["account"], play["region"]).ecs_find(arn)
        stages = self._ecs_stages(play)
        stage = stages[play["index"]]
        answer = data.get("answer") or {}
        status = answer.get("hookStatus") if isinstance(answer, dict) else None
        if status == "IN_PROGRESS":
            merged = play["details"].setdefault(_detail_key(stage), {})
            merged.update(answer.get("hookDetails") or {})
            return self._ecs_view(arn)
        play["details"].pop(_detail_key(stage), None)
        stage.pop("executionId", None)
        if status == "SUCCEEDED" or play["rollingBack"]:
            play["index"] += 1
        else:
            play["rollingBack"], play["index"] = True, 0
            d["status"] = "ROLLBACK_IN_PROGRESS"
            source = (d.get("sourceServiceRevisions") or [{}])[0].get("arn")
            d["rollback"] = {"reason": f"lifecycle hook {stage['stage']} answered {status or 'no hookStatus'}",
                             "startedAt": time.time(), "serviceRevisionArn": source}
        if play["index"] >= len(self._ecs_stages(play)):
            self._ecs_finish(d, play)
        return self._ecs_view(arn)

    def _ecs_finish(self, d, play):
        if not play["rollingBack"]:
            d["status"], d["finishedAt"] = "SUCCESSFUL", time.time()
            if play["script"].get("alarmAfterShift") and play.get("alarm"):
                self._set_alarm(play["account"], play["alarm"], "ALARM",
                                "Threshold Crossed: 2 out of the last 3 datapoints [12.0 (07/12/26 10:31:00), "
                                "14.0 (07/12/26 10:30:00)] were greater than the threshold (10.0).",
                                region=play["region"])
            return
        d["status"], d["finishedAt"] = "ROLLBACK_SUCCESSFUL", time.time()
        source = (d.get("sourceServiceRevisions") or [{}])[0].get("arn")
        revision = self.app._in(play["account"], play["region"]).ecs_revisions.get(source) or {}
        if revision.get("taskDefinition"):
            self._moto_ecs(play["account"], "UpdateService", {"cluster": play["cluster"], "service": play["service"],
                                                             "taskDefinition": revision["taskDefinition"]},
                           region=play["region"])

    # ---------------------------------------------------------------- target health, alarms

    def _set_targets(self, account, tg, targets):
        parts = tg.split(":")
        a = self.app._in(account, parts[3] if len(parts) > 3 and parts[3] else None)
        a.gate_state["targetHealth"][tg] = [{"targets": copy.deepcopy(targets)}]
        a.gate_calls.pop(("tg", tg), None)

    def _alarm_arn(self, account, name, region=None):
        return f"arn:aws:cloudwatch:{region or self.lib._default_region()}:{account}:alarm:{name}"

    def _set_alarm(self, account, name, state, reason, record=True, region=None):
        a = self.app._in(account, region)
        alarms = [x for x in a.state["alarms"] if x.get("AlarmName") != name]
        previous = next((x for x in a.state["alarms"] if x.get("AlarmName") == name), None)
        now = time.time()
        alarms.append({"AlarmName": name, "AlarmArn": self._alarm_arn(account, name, a.region), "StateValue": state,
                       "StateReason": reason, "StateUpdatedTimestamp": now, "MetricName": "HTTPCode_Target_5XX_Count",
                       "Namespace": "AWS/ApplicationELB", "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1,
                       "Threshold": 5.0, "ComparisonOperator": "GreaterThanThreshold", "ActionsEnabled": True})
        a.state["alarms"] = alarms
        if record and (previous or {}).get("StateValue") != state:
            arn = self._alarm_arn(account, name, a.region)
            self.events.append({"alarmName": name, "alarmArn": arn, "account": account, "region": a.region,
                                "state": state,
                                "previousState": (previous or {}).get("StateValue", "INSUFFICIENT_DATA"),
                                "reason": reason, "time": now, "tags": copy.deepcopy(a.alarm_tags.get(arn, {}))})

    def _moto_ecs(self, account, operation, req, region=None):
        call = self.lib.Call()
        call.api, call.operation, call.service = ECS, operation, "ecs"
        call.region, call.access_key, call.moto_account = region or self.lib._default_region(), "testing", account
        return self.app._moto_json(call, req)


def _detail_key(stage):
    """The details ECS merges back: per hook stage, and per traffic step."""
    return f"{stage['stage']}#{stage['step']}" if "step" in stage else stage["stage"]


def _failed_event(name):
    return {"lifecycleEventName": name, "status": "Failed", "diagnostics": {
        "errorCode": "ScriptFailed", "scriptName": "scripts/validate_service.sh",
        "message": "Script at specified location: scripts/validate_service.sh run as user root failed "
                   "with exit code 1",
        "logTail": "[stderr]curl: (7) Failed to connect to localhost port 8080: Connection refused"}}


def _task_definition(revision):
    """The task definition ARN in an ECS deployment's AppSpec content, if any."""
    content = ((revision or {}).get("appSpecContent") or {}).get("content") or ""
    found = TASK_DEFINITION.search(content)
    return found.group(1) if found else None
