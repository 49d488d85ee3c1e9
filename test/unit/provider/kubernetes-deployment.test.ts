/**
 * The Kubernetes backend's Deployment (KubernetesBackend.deployment, no API server needed) gives the
 * watchdog what promotion needs: its function name, namespace and a deployment id, through the downward
 * API. The fieldRefs are resolved here the way the kubelet does from the pod template's metadata, and the
 * result read by the watchdog's own config reader, so the name the watchdog publishes trees under is the
 * provider's function name.
 */
import { expect } from 'chai';
import { KubeConfig, type V1Deployment, type V1EnvVar } from '@kubernetes/client-node';
import { KubernetesBackend, DEPLOYMENT_ANNOTATION } from '../../../provider/backends/kubernetes.ts';
import { ENV_DEPLOYMENT } from '../../../provider/promotion/types.ts';
import { readWatchdogConfig, traceSubject } from '../../../watchdog/index.ts';

function backend(): KubernetesBackend {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u', token: 'x' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return new KubernetesBackend({ kubeConfig: kc, defaultNamespace: 'openfaas-fn' });
}

/** The kubelet's resolution of the container's env for a pod made from this Deployment. */
function podEnv(d: V1Deployment, namespace: string): Record<string, string> {
  const meta = d.spec!.template.metadata!;
  const out: Record<string, string> = {};
  for (const e of d.spec!.template.spec!.containers[0].env ?? ([] as V1EnvVar[])) {
    if (e.value !== undefined) {
      out[e.name] = e.value;
      continue;
    }
    const path = e.valueFrom?.fieldRef?.fieldPath ?? '';
    let m: RegExpExecArray | null;
    if (path === 'metadata.namespace') out[e.name] = namespace;
    else if ((m = /^metadata\.labels\['(.+)'\]$/.exec(path))) out[e.name] = meta.labels?.[m[1]] ?? '';
    else if ((m = /^metadata\.annotations\['(.+)'\]$/.exec(path))) out[e.name] = meta.annotations?.[m[1]] ?? '';
    else throw new Error(`unexpected fieldPath ${path}`);
  }
  return out;
}

describe('Kubernetes backend: the watchdog env of a function Deployment', () => {
  const spec = {
    service: 'hello',
    image: 'ghcr.io/example/hello:0.1.0',
    namespace: 'team-a',
    envVars: { custom: '1', OPENFAAS_NAME: 'not-the-name' },
    labels: { faas_function: 'someone-else', team: 'x' },
    annotations: { topic: 'orders' },
  };

  it('gives OPENFAAS_NAME, OPENFAAS_NAMESPACE and CONTAINERLESS_DEPLOYMENT that the watchdog reads as the function', () => {
    const d = backend().deployment(spec, 1);
    const env = podEnv(d, 'team-a');
    expect(env.custom).to.equal('1');
    expect(env.OPENFAAS_NAME).to.equal('hello');
    expect(env.OPENFAAS_NAMESPACE).to.equal('team-a');
    expect(env[ENV_DEPLOYMENT]).to.match(/^[0-9a-f-]{36}$/);
    expect(env[ENV_DEPLOYMENT]).to.equal(d.spec!.template.metadata!.annotations![DEPLOYMENT_ANNOTATION]);
    // The function folder in the image is /home/app/function: without OPENFAAS_NAME the watchdog would say "app".
    const c = readWatchdogConfig({ ...env }, '/home/app/function', { saNamespaceFile: '/nonexistent' });
    expect(c.functionName).to.equal('hello');
    expect(c.namespace).to.equal('team-a');
    expect(c.deployment).to.equal(env[ENV_DEPLOYMENT]);
    expect(traceSubject(c.namespace, c.functionName)).to.equal('containerless.traces.team-a.hello');
    expect(readWatchdogConfig({}, '/home/app/function', { saNamespaceFile: '/nonexistent' }).functionName).to.equal('app');
  });

  it('makes a new deployment id each time, on the pod template only', () => {
    const b = backend();
    const one = b.deployment(spec, 1);
    const two = b.deployment(spec, 1);
    const id = (d: V1Deployment): string | undefined => d.spec!.template.metadata!.annotations![DEPLOYMENT_ANNOTATION];
    expect(id(one)).to.not.equal(id(two));
    expect(one.metadata!.annotations).to.not.have.property(DEPLOYMENT_ANNOTATION);
    expect(one.spec!.template.metadata!.annotations).to.include({ topic: 'orders' });
  });

  it('lists the user env first, sorted, and the downward entries once, after it', () => {
    const names = backend()
      .deployment(spec, 1)
      .spec!.template.spec!.containers[0].env!.map((e) => e.name);
    expect(names).to.deep.equal(['custom', ENV_DEPLOYMENT, 'OPENFAAS_NAME', 'OPENFAAS_NAMESPACE']);
  });
});
