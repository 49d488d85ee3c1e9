/**
 * One ajv schema per inbound payload, compiled once. Inbound schemas tolerate unknown fields (the Go
 * provider does). `check()` returns the payload typed, or throws InvalidError with a one-line reason that
 * names the field.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { InvalidError } from './backend.ts';
import type { DeleteFunctionRequest, FunctionDeployment, ScaleServiceRequest, Secret } from './types.ts';

/** RFC 1123 label: what faas-netes accepts as a function name (and what a namespace must be). */
export const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain: Kubernetes secret names. */
export const RFC1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkFunctionName(name: string, field = 'service'): void {
  if (name.length > 63 || !RFC1123_LABEL.test(name)) {
    throw new InvalidError(
      `${field}: ${JSON.stringify(name)} is not a valid function name (RFC 1123: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)`,
    );
  }
}

export function checkSecretName(name: string): void {
  if (name.length > 253 || !RFC1123_SUBDOMAIN.test(name)) {
    throw new InvalidError(
      `name: ${JSON.stringify(name)} is not a valid secret name (RFC 1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters)`,
    );
  }
}

const nullableStringMap = { type: ['object', 'null'], additionalProperties: { type: 'string' } } as const;
const resources = {
  type: ['object', 'null'],
  properties: {
    memory: { type: 'string' },
    cpu: { type: 'string' },
    'nvidia.com/gpu': { type: 'string' },
    'amd.com/gpu': { type: 'string' },
    'intel.com/gpu': { type: 'string' },
  },
} as const;

const deploymentSchema = {
  type: 'object',
  required: ['service', 'image'],
  properties: {
    service: { type: 'string', minLength: 1 },
    image: { type: 'string', minLength: 1 },
    namespace: { type: 'string' },
    envProcess: { type: 'string' },
    envVars: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
    constraints: { type: ['array', 'null'], items: { type: 'string' } },
    secrets: { type: ['array', 'null'], items: { type: 'string' } },
    labels: nullableStringMap,
    annotations: nullableStringMap,
    limits: resources,
    requests: resources,
    readOnlyRootFilesystem: { type: 'boolean' },
  },
} as const;

const scaleSchema = {
  type: 'object',
  required: ['replicas'],
  properties: {
    serviceName: { type: 'string' },
    replicas: { type: 'integer', minimum: 0 },
    namespace: { type: 'string' },
  },
} as const;

const deleteSchema = {
  type: 'object',
  required: ['functionName'],
  properties: {
    functionName: { type: 'string', minLength: 1 },
    namespace: { type: 'string' },
  },
} as const;

const secretSchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    namespace: { type: 'string' },
    value: { type: 'string' },
    // Standard base64 with its padding, as Go's base64.StdEncoding decodes it: whole 4-character groups.
    rawValue: { type: 'string', pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' },
  },
} as const;

const secretDeleteSchema = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, namespace: { type: 'string' } },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const validators = {
  deployment: ajv.compile<FunctionDeployment>(deploymentSchema),
  scale: ajv.compile<ScaleServiceRequest>(scaleSchema),
  delete: ajv.compile<DeleteFunctionRequest>(deleteSchema),
  secret: ajv.compile<Secret>(secretSchema),
  secretDelete: ajv.compile<Secret>(secretDeleteSchema),
};

function describe(err: ErrorObject): string {
  const path = err.instancePath.replace(/^\//, '').replace(/\//g, '.') || '';
  if (err.keyword === 'required') {
    const missing = (err.params as { missingProperty: string }).missingProperty;
    return `${path ? `${path}.` : ''}${missing}: required`;
  }
  if (err.keyword === 'type') {
    return `${path || 'body'}: must be ${(err.params as { type: string | string[] }).type.toString().replace(',', ' or ')}`;
  }
  if (err.keyword === 'pattern' && path === 'rawValue') return 'rawValue: must be base64';
  return `${path || 'body'}: ${err.message ?? 'is invalid'}`;
}

function check<T>(validate: ValidateFunction<T>, body: unknown): T {
  if (body === undefined) throw new InvalidError('body: required (a JSON object)');
  if (!validate(body)) throw new InvalidError(describe(validate.errors![0]));
  return body;
}

export const parseDeployment = (body: unknown): FunctionDeployment => check(validators.deployment, body);
export const parseScale = (body: unknown): ScaleServiceRequest => check(validators.scale, body);
export const parseDelete = (body: unknown): DeleteFunctionRequest => check(validators.delete, body);
export const parseSecret = (body: unknown): Secret => check(validators.secret, body);
export const parseSecretDelete = (body: unknown): Secret => check(validators.secretDelete, body);
