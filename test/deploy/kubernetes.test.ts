// The deployment files: deploy/kubernetes/* (validated against the Kubernetes API schemas that the
// kubernetes-models package ships, and strictly for unknown fields through its TypeScript types),
// their consistency with each other, with the image (deploy/Dockerfile) and with the gateway
// itself (the ConfigMap's config is built by the gateway's own loader; the probes are answered by
// a real gateway started from it), and deploy/docker-compose.yaml.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import { basename, join, posix } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { createGateway } from "../../src/gateway.ts";
import { startServer, type RunningServer } from "../../src/server/http.ts";
import { createMemoryUsageSink } from "../../src/usage/record.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const K8S = join(ROOT, "deploy/kubernetes");

type Obj = Record<string, any>;
interface Manifest {
  file: string;
  index: number;
  obj: Obj;
}

/** Every document of every manifest file (kustomization.yaml apart: it is kustomize's, not the API's). */
function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml").sort()) {
    const docs = parseAllDocuments(readFileSync(join(K8S, file), "utf8"), { uniqueKeys: true });
    assert.ok(Array.isArray(docs), `${file}: no YAML documents`);
    docs.forEach((d, index) => {
      assert.deepEqual(d.errors, [], `${file}#${index}: YAML errors`);
      const obj = d.toJS();
      if (obj !== null) out.push({ file, index, obj });
    });
  }
  return out;
}

/** The kubernetes-models class (JSON schema validate()) and the TypeScript interface of each kind. */
const KINDS: Record<string, { model: new (data: any) => { validate(): void }; type: string; from: string }> = {
  "v1/ConfigMap": { model: ConfigMap, type: "IConfigMap", from: "kubernetes-models/v1/ConfigMap" },
  "v1/Secret": { model: Secret, type: "ISecret", from: "kubernetes-models/v1/Secret" },
  "v1/Service": { model: Service, type: "IService", from: "kubernetes-models/v1/Service" },
  "apps/v1/Deployment": { model: Deployment, type: "IDeployment", from: "kubernetes-models/apps/v1/Deployment" },
  "policy/v1/PodDisruptionBudget": { model: PodDisruptionBudget, type: "IPodDisruptionBudget", from: "kubernetes-models/policy/v1/PodDisruptionBudget" },
  "autoscaling/v2/HorizontalPodAutoscaler": { model: HorizontalPodAutoscaler, type: "IHorizontalPodAutoscaler", from: "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler" },
};
const kindOf = (o: Obj) => `${o.apiVersion}/${o.kind}`;

/** Kubernetes quantities: "256Mi", "1", "500m", "1G". */
function quantity(q: string | number): number {
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  assert.ok(m, `not a quantity: ${q}`);
  const mult: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(m[1]) * mult[m[2] ?? ""];
}

const MiB = 2 ** 20;
const manifests = loadManifests();
const one = (kind: string): Obj => {
  const found = manifests.filter((m) => m.obj.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind} expected, found ${found.length}`);
  return found[0].obj;
};
const deployment = one("Deployment");
const service = one("Service");
const configMap = one("ConfigMap");
const secret = one("Secret");
const pdb = one("PodDisruptionBudget");
const hpa = one("HorizontalPodAutoscaler");
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const podLabels: Record<string, string> = deployment.spec.template.metadata.labels;
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The image's ENTRYPOINT (JSON form) and USER, from deploy/Dockerfile. */
const dockerfile = readFileSync(join(ROOT, "deploy/Dockerfile"), "utf8");
const entrypoint: string[] = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1] ?? "null");
const imageUser = /^USER\s+(\S+)\s*$/m.exec(dockerfile)?.[1];
const flag = (args: string[], name: string) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? undefined : Number(a.slice(name.length + 3));
};

/** The gateway config in the ConfigMap, and the file the container is told to read. */
const configArg = container.args[container.args.indexOf("--config") + 1] as string;
const configMount = container.volumeMounts.find((m: Obj) => m.mountPath === posix.dirname(configArg));
const configVolume = pod.volumes.find((v: Obj) => v.name === configMount?.name);
const configText: string = configMap.data[configVolume?.configMap?.items?.find((i: Obj) => i.path === basename(configArg))?.key];

/** The Secret's placeholders made into values of the right shape (a valid hash for the admin key). */
const ADMIN_HASH = `sha256:${createHash("sha256").update("k8s-manifest-test-key").digest("hex")}`;
function secretEnvFilledIn(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries<string>(secret.stringData)) env[k] = k === "SIGNALBOX_ADMIN_KEY_HASH" ? ADMIN_HASH : v.replaceAll("REPLACE_ME", "example");
  for (const e of container.env ?? []) if (typeof e.value === "string") env[e.name] = e.value;
  return env;
}

describe("deploy/kubernetes: schemas", () => {
  test("every manifest is a known kind and passes the Kubernetes JSON schema (kubernetes-models validate())", () => {
    assert.ok(manifests.length >= 6);
    for (const m of manifests) {
      const k = KINDS[kindOf(m.obj)];
      assert.ok(k, `${m.file}#${m.index}: unexpected kind ${kindOf(m.obj)}`);
      assert.ok(m.obj.metadata?.name, `${m.file}#${m.index}: metadata.name`);
      assert.doesNotThrow(() => new k.model(m.obj).validate(), `${m.file}#${m.index} (${kindOf(m.obj)})`);
    }
  });

  test("the schema check bites: a wrong type and a missing required field are refused", () => {
    const bad = structuredClone(deployment);
    bad.spec.template.spec.containers[0].ports[0].containerPort = "8080";
    assert.throws(() => new Deployment(bad as any).validate(), /containerPort must be integer/);
    const noSelector = structuredClone(deployment);
    delete noSelector.spec.selector;
    assert.throws(() => new Deployment(noSelector as any).validate(), /selector/);
  });

  // The API's JSON schemas allow unknown fields (the API server refuses them only with strict
  // field validation); the TypeScript interfaces of the same package do not: an object literal
  // with a field the interface lacks is a type error, at any depth.
  test("no unknown fields: every manifest type-checks as its kubernetes-models interface (tsc, excess property checks)", async () => {
    // Inside the repository, so that "kubernetes-models" resolves from its node_modules.
    mkdirSync(join(ROOT, "test-output"), { recursive: true });
    const dir = mkdtempSync(join(ROOT, "test-output", "k8s-typecheck-"));
    try {
      const imports = new Set<string>();
      const lines: string[] = [];
      manifests.forEach((m, i) => {
        const k = KINDS[kindOf(m.obj)];
        imports.add(`import type { ${k.type} } from "${k.from}";`);
        lines.push(`// ${m.file}#${m.index}`, `export const m${i}: ${k.type} = ${JSON.stringify(m.obj, null, 1)};`);
      });
      // A control: one misspelt field must be reported, or the check proves nothing.
      const control = structuredClone(deployment);
      control.spec.template.spec.containers[0].readinesProbe = control.spec.template.spec.containers[0].readinessProbe;
      lines.push(`export const control: IDeployment = ${JSON.stringify(control, null, 1)};`);
      writeFileSync(join(dir, "check.ts"), [...imports, ...lines].join("\n"));
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({ compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2024", strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ["check.ts"] }),
      );
      const out = await new Promise<string>((resolve) =>
        execFile(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", dir, "--pretty", "false"], { cwd: ROOT }, (_err, stdout, stderr) => resolve(stdout + stderr)),
      );
      const errors = out.split("\n").filter((l) => /error TS\d+/.test(l));
      const controlLine = readFileSync(join(dir, "check.ts"), "utf8").split("\n").findIndex((l) => l.startsWith("export const control")) + 1;
      const [controlErrors, others] = [errors.filter((e) => lineOf(e) >= controlLine), errors.filter((e) => lineOf(e) < controlLine)];
      assert.deepEqual(others, [], `manifests have fields their kinds do not know:\n${out}`);
      assert.ok(controlErrors.some((e) => e.includes("readinesProbe")), `the misspelt control field was not reported:\n${out}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("kustomization.yaml lists exactly the manifests, and its image override names the Deployment's image", () => {
    const k = parse(readFileSync(join(K8S, "kustomization.yaml"), "utf8"));
    assert.equal(k.apiVersion, "kustomize.config.k8s.io/v1beta1");
    assert.equal(k.kind, "Kustomization");
    assert.deepEqual([...k.resources].sort(), [...new Set(manifests.map((m) => m.file))].sort());
    const image = String(container.image).split(":")[0];
    assert.ok(k.images.some((i: Obj) => i.name === image && i.newName && i.newTag), "images[] overrides the Deployment's image");
  });
});

const lineOf = (tscError: string) => Number(/check\.ts\((\d+),/.exec(tscError)?.[1] ?? 0);

describe("deploy/kubernetes: the pieces fit together", () => {
  test("the Service selects the Deployment's pods, targets a named container port, and says h2c", () => {
    assert.ok(selects(deployment.spec.selector.matchLabels, podLabels), "Deployment selector matches its pod labels");
    assert.ok(selects(service.spec.selector, podLabels), "Service selector matches the pod labels");
    assert.equal(service.spec.ports.length, 1);
    const [port] = service.spec.ports;
    const cport = container.ports.find((p: Obj) => p.name === port.targetPort);
    assert.ok(cport, `targetPort ${port.targetPort} names a container port`);
    assert.equal(cport.name, "http");
    assert.equal(cport.containerPort, 8080);
    assert.equal(port.appProtocol, "kubernetes.io/h2c");
    // The gateway listens where the container says it does.
    assert.ok(container.env.some((e: Obj) => e.name === "PORT" && Number(e.value) === cport.containerPort));
  });

  test("probes: readiness is the gRPC health service on the container port, liveness GET /healthz on it", () => {
    const cport = container.ports[0];
    assert.deepEqual(container.readinessProbe.grpc, { port: cport.containerPort }, "grpc probe, service \"\" (the server as a whole)");
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    for (const p of [container.livenessProbe, container.startupProbe]) {
      const named = container.ports.find((x: Obj) => x.name === p.httpGet.port || x.containerPort === p.httpGet.port);
      assert.ok(named, `probe port ${p.httpGet.port} is a container port`);
    }
  });

  test("the HPA and the PDB target the Deployment and its pods; the PDB never allows all replicas down", () => {
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
    assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
    const cpu = hpa.spec.metrics.find((m: Obj) => m.type === "Resource" && m.resource.name === "cpu");
    assert.equal(cpu.resource.target.type, "Utilization");
    assert.ok(cpu.resource.target.averageUtilization >= 50 && cpu.resource.target.averageUtilization <= 80);
    assert.equal(deployment.spec.replicas, undefined, "the HPA owns the replica count");
    assert.ok(selects(pdb.spec.selector.matchLabels, podLabels));
    const down = pdb.spec.maxUnavailable ?? hpa.spec.minReplicas - pdb.spec.minAvailable;
    assert.ok(down >= 1 && down < hpa.spec.minReplicas, "a drain can proceed, and never takes every replica");
  });

  test("--config names the file the ConfigMap is mounted as; secrets come from the Secret", () => {
    assert.equal(container.command, undefined, "no `command`: the image's entrypoint (with its heap flags) stays");
    assert.ok(configMount?.readOnly, `a read-only mount at ${posix.dirname(configArg)}`);
    assert.equal(configVolume.configMap.name, configMap.metadata.name);
    assert.equal(typeof configText, "string", `the ConfigMap has the key mounted as ${basename(configArg)}`);
    assert.deepEqual(container.envFrom, [{ secretRef: { name: secret.metadata.name } }]);
  });

  test("every ${VAR} the config needs is set by the Secret or the container, and every Secret key is used", () => {
    const refs = [...configText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)];
    const provided = new Set([...Object.keys(secret.stringData), ...container.env.map((e: Obj) => e.name)]);
    for (const [, name, def] of refs) if (def === undefined) assert.ok(provided.has(name), `\${${name}} has no default and no source`);
    // Read by the gateway itself, not through the config: the master key that seals runtime credentials.
    const used = new Set([...refs.map((r) => r[1]), "SIGNALBOX_MASTER_KEY"]);
    for (const k of Object.keys(secret.stringData)) assert.ok(used.has(k), `Secret key ${k} is not used by the config`);
  });

  test("the ConfigMap's config is valid for the gateway (its own buildConfig), with Redis and PostgreSQL required", () => {
    const cfg = buildConfig(parse(configText), secretEnvFilledIn());
    assert.ok(cfg.store.redisUrl?.startsWith("redis://"));
    assert.ok(cfg.store.postgresUrl?.startsWith("postgres://"));
    assert.ok(cfg.keys.some((k) => k.role === "admin"), "auth is on: an admin key bootstraps AdminService");
    assert.ok(cfg.routes.length > 0 && cfg.providers.every((p) => p.type !== "mock"));
    // Without REDIS_URL (a Secret without it) start-up fails rather than splitting limits per replica.
    const { REDIS_URL: _r, ...noRedis } = secretEnvFilledIn();
    assert.throws(() => buildConfig(parse(configText), noRedis), (e: unknown) => e instanceof ConfigError && /REDIS_URL/.test(e.message));
  });

  test("the Secret is a template: stringData placeholders only, nothing that looks like a real key", () => {
    assert.equal(secret.data, undefined);
    for (const [k, v] of Object.entries<string>(secret.stringData)) assert.match(v, /REPLACE_ME/, `${k} is a placeholder`);
    const realLooking = /\bsk-[A-Za-z0-9_-]{8,}|\bsk-ant-|\bAIza[0-9A-Za-z_-]{20,}|\bsbk_[A-Za-z0-9]{8,}|sha256:[0-9a-f]{64}|-----BEGIN/;
    for (const f of readdirSync(K8S)) assert.doesNotMatch(readFileSync(join(K8S, f), "utf8"), realLooking, f);
    // And the unedited Secret cannot start a gateway (with auth off, or at all): the admin hash is refused.
    const raw: Record<string, string> = { ...secret.stringData, PORT: "8080" };
    assert.throws(() => buildConfig(parse(configText), raw), (e: unknown) => e instanceof ConfigError && e.message.includes("keys[0].hash"));
  });

  test("terminationGracePeriodSeconds covers preStop, the gateway's drain and closing its stores", () => {
    const cfg = buildConfig(parse(configText), secretEnvFilledIn());
    const preStop = container.lifecycle.preStop.sleep.seconds;
    assert.ok(preStop >= 3 && preStop <= 15, "a few seconds for endpoints to drop the pod");
    // The usage store gives up flushing after 3 s (src/usage/redis-store.ts flushTimeoutMs).
    const needed = preStop + cfg.server.shutdownGraceMs / 1000 + 3;
    assert.ok(pod.terminationGracePeriodSeconds >= needed, `${pod.terminationGracePeriodSeconds} s < ${needed} s`);
  });

  test("resources: memory fits the image's heap cap and the bench's RSS; CPU is the one core a replica saturates", () => {
    assert.ok(entrypoint, "deploy/Dockerfile has a JSON ENTRYPOINT");
    const oldSpace = flag(entrypoint, "max-old-space-size")!;
    const semiSpace = flag(entrypoint, "max-semi-space-size")!;
    assert.ok(oldSpace > 0 && semiSpace > 0, "the entrypoint caps the heap");
    // The image and `npm start` run with the same V8 flags (heap caps, pretenuring off), in the same order.
    const start = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start as string;
    assert.deepEqual(
      entrypoint.filter((a: string) => a.startsWith("--")),
      start.split(/\s+/).filter((a) => a.startsWith("--")),
      start,
    );
    const { requests, limits } = container.resources;
    const heapCap = (oldSpace + 3 * semiSpace) * MiB;
    assert.ok(quantity(limits.memory) >= heapCap + 64 * MiB, "the memory limit leaves room above the heap for code, buffers and sockets");
    assert.ok(quantity(requests.memory) >= 250e6, "the request covers the benchmark's RSS (≤ 250 MB)");
    assert.ok(quantity(requests.memory) <= quantity(limits.memory));
    assert.equal(quantity(requests.cpu), 1);
    assert.ok(quantity(limits.cpu) >= quantity(requests.cpu));
  });

  test("security: non-root (the image's user), read-only root with a writable /tmp, no capabilities, no token", () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(String(pod.securityContext.runAsUser), imageUser?.split(":")[0], "runAsUser is the Dockerfile's USER");
    assert.equal(pod.automountServiceAccountToken, false);
    const sc = container.securityContext;
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ["ALL"]);
    const tmp = container.volumeMounts.find((m: Obj) => m.mountPath === "/tmp");
    assert.ok(tmp && pod.volumes.find((v: Obj) => v.name === tmp.name)?.emptyDir, "/tmp is an emptyDir");
  });

  test("replicas spread over nodes and zones", () => {
    const keys = pod.topologySpreadConstraints.map((c: Obj) => c.topologyKey).sort();
    assert.deepEqual(keys, ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
    for (const c of pod.topologySpreadConstraints) assert.ok(selects(c.labelSelector.matchLabels, podLabels));
    const anti = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    assert.ok(selects(anti.labelSelector.matchLabels, podLabels));
  });
});

// The probes as the kubelet sends them, against a gateway started from the ConfigMap's config
// (stores left out: no Redis or PostgreSQL here).
describe("deploy/kubernetes: a gateway from the ConfigMap answers the probes", () => {
  let server: RunningServer;
  let config: Config;
  before(async () => {
    config = buildConfig(parse(configText), secretEnvFilledIn());
    const gw = await createGateway({ ...config, store: {} as Config["store"] }, { usage: createMemoryUsageSink(), tracing: null });
    server = await startServer(gw, { port: 0, host: "127.0.0.1", maxRequestBytes: config.server.maxRequestBytes });
  });
  after(() => server?.shutdown(0));

  /** grpc.health.v1.Health/Check over h2c with prior knowledge, as the kubelet's gRPC probe does it (no auth). */
  const grpcHealth = () =>
    new Promise<{ status: number | undefined; grpcStatus: string | undefined }>((resolve, reject) => {
      const session = http2.connect(server.url);
      session.on("error", reject);
      const req = session.request({
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Check",
        "content-type": "application/grpc",
        te: "trailers",
        "user-agent": "kube-probe/1.33",
      });
      const chunks: Buffer[] = [];
      let grpcStatus: string | undefined;
      req.on("response", (h) => (grpcStatus ??= h["grpc-status"] as string | undefined));
      req.on("trailers", (t) => (grpcStatus = t["grpc-status"] as string | undefined));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        session.close();
        const body = Buffer.concat(chunks);
        // One length-prefixed message: HealthCheckResponse { status = 1 (field 1, varint) }.
        const msg = body.subarray(5, 5 + (body.length >= 5 ? body.readUInt32BE(1) : 0));
        resolve({ status: msg[0] === 0x08 ? msg[1] : undefined, grpcStatus });
      });
      req.on("error", reject);
      // An empty HealthCheckRequest (service ""): uncompressed flag, zero length.
      req.end(Buffer.alloc(5));
    });

  test("readiness: the gRPC health check over h2c reports SERVING without a key", async () => {
    assert.ok(config.keys.length > 0, "auth is on");
    assert.deepEqual(await grpcHealth(), { status: 1, grpcStatus: "0" });
  });

  test("liveness: GET /healthz over HTTP/1.1 is 200", async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "serving" });
  });
});

describe("deploy/docker-compose.yaml", () => {
  const compose = parse(readFileSync(join(ROOT, "deploy/docker-compose.yaml"), "utf8"), { uniqueKeys: true });
  const s = compose.services;
  const volumeAt = (svc: Obj, path: string) => (svc.volumes as string[]).map((v) => v.split(":")).find(([, p]) => p === path)?.[0];

  test("Redis persists: AOF on, fsync every second, /data in a named volume", () => {
    const cmd: string[] = s.redis.command;
    const opt = (name: string) => cmd[cmd.indexOf(name) + 1];
    assert.equal(cmd[0], "redis-server");
    assert.equal(opt("--appendonly"), "yes");
    assert.equal(opt("--appendfsync"), "everysec");
    const vol = volumeAt(s.redis, "/data");
    assert.ok(vol && vol in compose.volumes, "/data is a named volume");
    assert.ok(s.redis.healthcheck);
  });

  test("PostgreSQL 15 or 16 with a named volume and a health check; the gateway's DATABASE_URL points at it", () => {
    assert.match(s.postgres.image, /^postgres:1[56](\b|-|$)/);
    const vol = volumeAt(s.postgres, "/var/lib/postgresql/data");
    assert.ok(vol && vol in compose.volumes, "the data directory is a named volume");
    assert.ok(s.postgres.healthcheck?.test);
    const env = s.postgres.environment;
    const url = new URL(s.signalbox.environment.DATABASE_URL);
    assert.equal(url.protocol, "postgres:");
    assert.equal(url.hostname, "postgres");
    assert.equal(decodeURIComponent(url.username), env.POSTGRES_USER);
    assert.equal(decodeURIComponent(url.password), env.POSTGRES_PASSWORD);
    assert.equal(url.pathname, `/${env.POSTGRES_DB}`);
    assert.equal(s.signalbox.depends_on.postgres.condition, "service_healthy");
  });

  test("the gateway still has Redis and Jaeger, and time to drain on stop", () => {
    assert.equal(new URL(s.signalbox.environment.REDIS_URL).hostname, "redis");
    assert.ok(s.jaeger);
    assert.equal(new URL(s.signalbox.environment.OTEL_EXPORTER_OTLP_ENDPOINT).hostname, "jaeger");
    assert.equal(s.signalbox.build.dockerfile, "deploy/Dockerfile");
    assert.ok(quantity(String(s.signalbox.stop_grace_period).replace(/s$/, "")) > 10, "longer than the default shutdown_grace_ms (10 s)");
  });
});
