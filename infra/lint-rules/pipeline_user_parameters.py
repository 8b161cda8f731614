"""cfn-lint rules for the example pipelines: every Lambda action's UserParameters is a JSON
object once CloudFormation has substituted it (each branch of an Fn::If), fits CodePipeline's
1,000 characters, and every #{Namespace.Variable} it uses names an action that ran before;
every inline buildspec is YAML whose commands are all strings, as CodeBuild requires.

Run with `cfn-lint --append-rules infra/lint-rules ...` (scripts/test does)."""

import json
import re

import yaml
from cfnlint.rules import CloudFormationLintRule, RuleMatch

# What a parameter becomes while the JSON is checked: numbers stay numbers, text stays text.
SAMPLE = {"Number": "1", "String": "x", "CommaDelimitedList": "x"}
MAX_CHARS = 1000
SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")
PIPELINE_VAR = re.compile(r"#\{([A-Za-z0-9@_-]+)\.[A-Za-z0-9@_-]+\}")


class PipelineUserParameters(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "Lambda actions' UserParameters are JSON objects with known namespaces"
    description = (
        "Each UserParameters of a CodePipeline Lambda action, substituted, parses as a JSON "
        "object within 1,000 characters, and its #{Namespace.Variable} references name "
        "actions that run earlier"
    )
    tags = ["resources", "codepipeline"]

    def match(self, cfn):
        matches = []
        kinds = {
            name: SAMPLE.get(p.get("Type"), "x")
            for name, p in cfn.template.get("Parameters", {}).items()
        }
        for name, res in cfn.get_resources("AWS::CodePipeline::Pipeline").items():
            seen = {"codepipeline"}
            stages = res.get("Properties", {}).get("Stages", [])
            for s, stage in enumerate(stages):
                actions = [_first_branch(a) for a in stage.get("Actions", [])]
                for order in sorted({a.get("RunOrder", 1) for a in actions}):
                    batch = [(i, a) for i, a in enumerate(actions) if a.get("RunOrder", 1) == order]
                    for i, action in batch:
                        path = ["Resources", name, "Properties", "Stages", s, "Actions", i]
                        for problem in _problems(action, kinds, seen):
                            matches.append(RuleMatch(path, f"{action.get('Name')}: {problem}"))
                    seen.update(a["Namespace"] for _, a in batch if "Namespace" in a)
        return matches


def _first_branch(node):
    """An action given as Fn::If: its first branch (both have the same namespace)."""
    if isinstance(node, dict) and "Fn::If" in node:
        return node["Fn::If"][1]
    return node


def _problems(action, kinds, seen):
    if action.get("ActionTypeId", {}).get("Provider") != "Lambda":
        return
    value = action.get("Configuration", {}).get("UserParameters")
    if value is None:
        return
    for text in _texts(value):
        if len(text) > MAX_CHARS:
            yield f"UserParameters has {len(text)} characters before substitution; at most {MAX_CHARS}"
        for ns in PIPELINE_VAR.findall(text):
            if ns not in seen:
                yield f"#{{{ns}.…}} names no namespace of an earlier action (known: {', '.join(sorted(seen))})"
        sample = SUB_VAR.sub(lambda m: kinds.get(m.group(1), "x"), text)
        try:
            parsed = json.loads(sample)
        except ValueError as e:
            yield f"UserParameters is not JSON once substituted ({e}): {sample}"
            continue
        if not isinstance(parsed, dict):
            yield "UserParameters must be a JSON object"


def _texts(value):
    """The strings UserParameters can become: a plain string, Fn::Sub, each Fn::If branch."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        yield sub[0] if isinstance(sub, list) else sub
    elif isinstance(value, dict) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from _texts(branch)


class InlineBuildspec(CloudFormationLintRule):
    id = "E9102"
    shortdesc = "Inline buildspecs are YAML whose commands are strings"
    description = (
        "A CodeBuild project's inline BuildSpec parses as YAML, and each phase's commands "
        "are strings (a command with ': ' in a plain scalar becomes a mapping, which "
        "CodeBuild refuses)"
    )
    tags = ["resources", "codebuild"]

    def match(self, cfn):
        matches = []
        for name, res in cfn.get_resources("AWS::CodeBuild::Project").items():
            spec = res.get("Properties", {}).get("Source", {}).get("BuildSpec")
            if not isinstance(spec, str):
                continue
            path = ["Resources", name, "Properties", "Source", "BuildSpec"]
            try:
                doc = yaml.safe_load(spec)
            except yaml.YAMLError as e:
                matches.append(RuleMatch(path, f"the buildspec is not YAML: {e}"))
                continue
            for phase, body in ((doc or {}).get("phases") or {}).items():
                for i, command in enumerate((body or {}).get("commands") or []):
                    if not isinstance(command, str):
                        matches.append(
                            RuleMatch(
                                path,
                                f"phases.{phase}.commands[{i}] is not a string ({command!r}); "
                                "write it as a block scalar (- >- or - |)",
                            )
                        )
        return matches
