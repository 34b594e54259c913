#!/usr/bin/env python3
"""What schema validation cannot see in cluster/kubernetes: that the objects refer to each other correctly.

Usage: kubernetes-references.py IMAGE FILE.yaml...   (run by Scripts/test-deploy kubernetes)

Checks, over all documents of all files together: every persistentVolumeClaim, Secret (and Secret item key),
ConfigMap and Service a workload names is defined; Service selectors and StatefulSet serviceNames match; named
ports exist; every container has CPU and memory requests and limits; every image is IMAGE; the data volume is
ReadWriteMany and mounted at the same path by every pod that uses it. Prints each problem and exits 1 if any.
"""
import sys

import yaml


def pod_specs(doc):
    kind, spec = doc.get("kind"), doc.get("spec", {})
    if kind == "Pod":
        return [spec]
    if kind in ("Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"):
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def main():
    image, files = sys.argv[1], sys.argv[2:]
    docs = []
    for path in files:
        with open(path) as f:
            docs += [(path, d) for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for path, doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"].get("name") or doc["metadata"].get("generateName")] = (path, doc)
    problems = []
    claims = {name: doc for name, (_, doc) in by_kind.get("PersistentVolumeClaim", {}).items()}
    secrets = {name: doc for name, (_, doc) in by_kind.get("Secret", {}).items()}
    config_maps = {name: doc for name, (_, doc) in by_kind.get("ConfigMap", {}).items()}
    data_mounts = set()

    for path, doc in docs:
        name = f"{path}: {doc['kind']} {doc['metadata'].get('name') or doc['metadata'].get('generateName')}"
        for spec in pod_specs(doc):
            templates = {t["metadata"]["name"] for t in doc.get("spec", {}).get("volumeClaimTemplates", [])}
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            for volume in volumes.values():
                if "persistentVolumeClaim" in volume:
                    claim = volume["persistentVolumeClaim"]["claimName"]
                    if claim not in claims:
                        problems.append(f"{name}: volume {volume['name']} claims {claim}, which nothing defines")
                if "secret" in volume:
                    secret = volume["secret"]["secretName"]
                    if secret not in secrets:
                        problems.append(f"{name}: volume {volume['name']} uses Secret {secret}, which nothing defines")
                    else:
                        for item in volume["secret"].get("items", []):
                            if item["key"] not in secrets[secret].get("data", {}):
                                problems.append(f"{name}: Secret {secret} has no key {item['key']}")
                if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
                    problems.append(f"{name}: ConfigMap {volume['configMap']['name']}, which nothing defines")
            containers = spec.get("initContainers", []) + spec.get("containers", [])
            for container in containers:
                where = f"{name}, container {container['name']}"
                if container.get("image") != image:
                    problems.append(f"{where}: image {container.get('image')}, expected {image}")
                resources = container.get("resources", {})
                for part in ("requests", "limits"):
                    for resource in ("cpu", "memory"):
                        if resource not in resources.get(part, {}):
                            problems.append(f"{where}: no {resource} in resources.{part}")
                ports = {p.get("name") for p in container.get("ports", [])}
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    for handler in ("tcpSocket", "httpGet"):
                        port = container.get(probe, {}).get(handler, {}).get("port")
                        if isinstance(port, str) and port not in ports:
                            problems.append(f"{where}: {probe} names port {port}, which the container does not declare")
                for mount in container.get("volumeMounts", []):
                    if mount["name"] not in volumes and mount["name"] not in templates:
                        problems.append(f"{where}: mounts {mount['name']}, which is not a volume of the pod")
                    volume = volumes.get(mount["name"], {})
                    if volume.get("persistentVolumeClaim", {}).get("claimName") == "tailforge-data":
                        data_mounts.add(mount["mountPath"])
        if doc["kind"] == "StatefulSet":
            service = doc["spec"]["serviceName"]
            if service not in by_kind.get("Service", {}):
                problems.append(f"{name}: serviceName {service}, which nothing defines")
    for service_name, (path, service) in by_kind.get("Service", {}).items():
        selector = service["spec"]["selector"]
        targets = [(p, d) for p, d in docs if d["kind"] in ("Deployment", "StatefulSet")
                   if selector.items() <= d["spec"]["template"]["metadata"].get("labels", {}).items()]
        if not targets:
            problems.append(f"{path}: Service {service_name} selects no workload's pods")
        for _, target in targets:
            declared = {p.get("name") for c in target["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
            for port in service["spec"]["ports"]:
                if isinstance(port.get("targetPort"), str) and port["targetPort"] not in declared:
                    problems.append(f"{path}: Service {service_name} targets port {port['targetPort']}, which its pods do not declare")
    data = claims.get("tailforge-data")
    if data is None:
        problems.append("no PersistentVolumeClaim tailforge-data (the shared data volume)")
    elif "ReadWriteMany" not in data["spec"]["accessModes"]:
        problems.append("tailforge-data is not ReadWriteMany: workers on several nodes could not mount it")
    if len(data_mounts) > 1:
        problems.append(f"tailforge-data is mounted at different paths {sorted(data_mounts)}: job paths would not resolve everywhere")
    for problem in problems:
        print(problem)
    print(f"kubernetes-references: {len(docs)} objects, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
