"""Create what the (transformed, resolved) template describes on the local stack.

Each resource whose type moto's CloudFormation implements is created BY moto's
CloudFormation: a stack of that one resource, its properties already evaluated (moto's
CloudFormation cannot evaluate our Rules, `{{resolve:ssm}}` or cross-resource references
to types it lacks, so the template is evaluated here, in dependency order, and each
resource handed over resolved). Its Ref is the stack resource's physical id, its
attributes the stack's outputs. Every other type is created through the SDK, as
CloudFormation's resource handler would; each such gap is listed in `SDK_TYPES` and
explained in deploy/local/README.md.
"""
import json
import secrets
import string

from .template import Refused

# Types moto's CloudFormation creates (moto.cloudformation.parsing.get_model_map, 5.2).
MOTO_TYPES = {
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
    "AWS::Lambda::Function",
    "AWS::Lambda::Version",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::SSM::Parameter",
    # The operations resources (RotationFailedRule and the alarms): moto's CloudFormation
    # creates both types.
    "AWS::Events::Rule",
    "AWS::CloudWatch::Alarm",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
}
# Attributes other resources read (Fn::GetAtt), per type.
ATTRIBUTES = {
    "AWS::IAM::Role": ["Arn"],
    "AWS::Lambda::Function": ["Arn"],
    "AWS::Lambda::Version": ["Version"],
    "AWS::ApiGateway::RestApi": ["RootResourceId"],
}


class Deployer:
    def __init__(self, aws, resolver, stack_name, cloudfront, secrets_manager, add_host):
        """`aws(service, region=None)` gives an admin boto3 client on moto."""
        self.aws = aws
        self.r = resolver
        self.stack = stack_name
        self.cloudfront = cloudfront
        self.sm = secrets_manager
        self.add_host = add_host
        self.created = []  # (logical id, type, how)
        self.rotation_schedule = None
        self.function_properties = {}

    def deploy(self, order):
        for lid in order:
            res = self.r.tpl["Resources"][lid]
            kind = res["Type"]
            props = self.r.eval(res.get("Properties", {}))
            if kind in MOTO_TYPES:
                self._moto(lid, kind, props)
                how = "moto CloudFormation"
            elif kind == "AWS::CloudFormation::WaitConditionHandle":
                self.r.physical[lid] = f"https://cloudformation-waitcondition.local/{lid}"
                how = "no-op (a handle)"
            else:
                getattr(self, "_" + kind.replace("::", "_").lower())(lid, props)
                how = "SDK"
            self.created.append((lid, kind, how))

    # ------------------------------------------------------------ moto's CloudFormation
    def _moto(self, lid, kind, props):
        cfn = self.aws("cloudformation")
        body = {"Resources": {lid: {"Type": kind, "Properties": props}}, "Outputs": {}}
        for attr in ATTRIBUTES.get(kind, []):
            body["Outputs"][attr] = {"Value": {"Fn::GetAtt": [lid, attr]}}
        # CloudFormation names what it creates STACK-LOGICALID-RANDOM, within the type's
        # limit (64 for a role); a one-resource stack named after the resource would
        # double the logical id and go past it.
        name = f"{self.stack}-{len(self.created)}"
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(body),
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise Refused(f"{lid} ({kind}): {stack['StackStatus']} {stack.get('StackStatusReason')}")
        resources = cfn.describe_stack_resources(StackName=name)["StackResources"]
        self.r.physical[lid] = resources[0].get("PhysicalResourceId")
        self.r.attributes[lid] = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if kind == "AWS::Lambda::Version":
            # Ref of a version is its qualified ARN (CloudFormation resource reference);
            # moto's stack resource carries no physical id for it: the newest version.
            versions = self.aws("lambda").list_versions_by_function(FunctionName=props["FunctionName"])["Versions"]
            latest = max((v for v in versions if v["Version"] != "$LATEST"), key=lambda v: int(v["Version"]))
            self.r.physical[lid] = latest["FunctionArn"]
            self.r.attributes[lid].setdefault("Version", latest["Version"])
        if kind == "AWS::Lambda::Function":
            self.function_properties[props.get("FunctionName", self.r.physical[lid])] = props
        if kind == "AWS::Lambda::Function" and "Arn" not in self.r.attributes[lid]:
            fn = self.aws("lambda").get_function_configuration(FunctionName=self.r.physical[lid])
            self.r.attributes[lid]["Arn"] = fn["FunctionArn"]

    # ------------------------------------------------------------ through the SDK
    def _aws_secretsmanager_secret(self, lid, props):
        sm = self.aws("secretsmanager")
        name = props.get("Name") or f"{lid}-{_suffix(12)}"
        args = {"Name": name}
        if "KmsKeyId" in props:
            args["KmsKeyId"] = props["KmsKeyId"]
        if "SecretString" in props:
            args["SecretString"] = props["SecretString"]
        elif "GenerateSecretString" in props:
            g = props["GenerateSecretString"]
            pw = sm.get_random_password(
                PasswordLength=int(g.get("PasswordLength", 32)),
                ExcludeCharacters=g.get("ExcludeCharacters", ""),
                ExcludePunctuation=bool(g.get("ExcludePunctuation", False)),
                IncludeSpace=bool(g.get("IncludeSpace", False)),
                RequireEachIncludedType=bool(g.get("RequireEachIncludedType", True)),
            )["RandomPassword"]
            if "SecretStringTemplate" in g:
                # The template's JSON with the generated value under GenerateStringKey.
                doc = json.loads(g["SecretStringTemplate"])
                doc[g["GenerateStringKey"]] = pw
                pw = json.dumps(doc, separators=(",", ":"))
            args["SecretString"] = pw
        if "Description" in props:
            args["Description"] = props["Description"]
        arn = sm.create_secret(**args)["ARN"]
        self.r.physical[lid] = arn

    def _aws_secretsmanager_rotationschedule(self, lid, props):
        # Secrets Manager's RotateSecret as CloudFormation calls it: the schedule, and
        # either a rotation or the testSecret-only configuration test, whose failure
        # fails the resource (aws/aws-cdk#26481). `secrets_manager` drives it.
        self.rotation_schedule = props
        self.sm.schedule(props)
        self.r.physical[lid] = props["SecretId"]

    def _aws_apigatewayv2_api(self, lid, props):
        api = self.aws("apigatewayv2").create_api(
            Name=props["Name"], ProtocolType=props["ProtocolType"],
            Description=props.get("Description", ""))
        self.r.physical[lid] = api["ApiId"]
        self.r.attributes[lid] = {"ApiEndpoint": api.get("ApiEndpoint", "")}
        self.add_host(f"{api['ApiId']}.execute-api.{self.r.refs['AWS::Region']}.amazonaws.com")

    def _aws_apigatewayv2_stage(self, lid, props):
        self.aws("apigatewayv2").create_stage(
            ApiId=props["ApiId"], StageName=props["StageName"], AutoDeploy=bool(props.get("AutoDeploy")))
        self.r.physical[lid] = props["StageName"]

    def _aws_apigatewayv2_integration(self, lid, props):
        out = self.aws("apigatewayv2").create_integration(
            ApiId=props["ApiId"], IntegrationType=props["IntegrationType"],
            IntegrationUri=props["IntegrationUri"],
            PayloadFormatVersion=props.get("PayloadFormatVersion", "2.0"))
        self.r.physical[lid] = out["IntegrationId"]

    def _aws_apigatewayv2_route(self, lid, props):
        args = {k: props[k] for k in ("ApiId", "RouteKey", "AuthorizationType", "AuthorizerId", "Target") if k in props}
        self.r.physical[lid] = self.aws("apigatewayv2").create_route(**args)["RouteId"]

    def _aws_apigatewayv2_authorizer(self, lid, props):
        args = {k: props[k] for k in ("ApiId", "Name", "AuthorizerType", "AuthorizerUri",
                                      "AuthorizerPayloadFormatVersion", "EnableSimpleResponses",
                                      "AuthorizerResultTtlInSeconds") if k in props}
        args["IdentitySource"] = props.get("IdentitySource", [])
        args["AuthorizerResultTtlInSeconds"] = int(args.get("AuthorizerResultTtlInSeconds", 0))
        self.r.physical[lid] = self.aws("apigatewayv2").create_authorizer(**args)["AuthorizerId"]

    def _aws_cloudfront_distribution(self, lid, props):
        refs = self.r.refs
        dist = self.cloudfront.create_from_cloudformation(props["DistributionConfig"], {
            "aws:cloudformation:stack-name": refs["AWS::StackName"],
            "aws:cloudformation:stack-id": refs["AWS::StackId"],
            "aws:cloudformation:logical-id": lid})
        self.r.physical[lid] = dist["Id"]
        self.r.attributes[lid] = {"DomainName": dist["DomainName"], "Id": dist["Id"]}


def _suffix(n):
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))
