import { InputError } from '../../errors.js';
import {
  fileFor,
  specPath,
  wifiContent,
  type ImageConfig,
  type MethodContext,
  type PlannedWrite,
  type ProvisionMethod,
} from './method.js';

type Json = Record<string, unknown>;

/** Sets `a.b.c` in an object, making the objects on the way; a non-object on the way is bad input. */
export function setField(obj: Json, dotted: string, value: unknown, where: string): void {
  const keys = dotted.split('.');
  let at: Json = obj;
  for (const k of keys.slice(0, -1)) {
    const next = at[k] ?? (at[k] = {});
    if (typeof next !== 'object' || next === null || Array.isArray(next))
      throw new InputError(`${where}: field ${dotted}: "${k}" is not an object in the file`, {
        field: dotted,
      });
    at = next as Json;
  }
  at[keys[keys.length - 1]] = value;
}

export function getField(obj: Json, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce<unknown>((at, k) => (at && typeof at === 'object' ? (at as Json)[k] : undefined), obj);
}

async function readJson(ctx: MethodContext, file: string): Promise<Json> {
  const text = await ctx.files.read(file);
  if (text === undefined || text.trim() === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Json;
  } catch {
    // reported below
  }
  throw new InputError(
    `${ctx.image}: ${file} on partition ${ctx.part.number} is not a JSON object: hw-test keeps its fields and adds its own, so it must parse`,
    { file: ctx.image },
  );
}

function needField(
  ctx: MethodContext,
  name: 'hostname' | 'authorizedKeys' | 'devMode' | 'wifiSsid' | 'wifiPsk',
) {
  const f = ctx.os.configure?.json?.fields[name];
  if (!f)
    throw new InputError(
      `${ctx.os.file}: configure.json.fields.${name} is not set, so this OS cannot take it`,
      {
        file: ctx.os.file,
        field: `configure.json.fields.${name}`,
      },
    );
  return f;
}

/** Fields set in the JSON object; the items they carry. */
function applyFields(cfg: ImageConfig, ctx: MethodContext, json: Json, where: string): string[] {
  const items: string[] = [];
  if (cfg.hostname !== undefined) {
    setField(json, needField(ctx, 'hostname'), cfg.hostname, where);
    items.push('hostname');
  }
  if (cfg.sshKey !== undefined) {
    const field = needField(ctx, 'authorizedKeys');
    // The image's own keys stay: the run's is added.
    const had = getField(json, field);
    const keys: unknown[] = Array.isArray(had)
      ? (had as unknown[]).filter((k) => k !== cfg.sshKey!.trim())
      : [];
    setField(json, field, [...keys, cfg.sshKey.trim()], where);
    items.push('authorizedKeys');
  }
  if (cfg.devMode) {
    setField(json, needField(ctx, 'devMode'), true, where);
    items.push('devMode');
  }
  const f = ctx.os.configure?.json?.fields ?? {};
  if (cfg.wifiSsid !== undefined && f.wifiSsid && f.wifiPsk) {
    setField(json, f.wifiSsid, cfg.wifiSsid, where);
    setField(json, f.wifiPsk, cfg.wifiPsk, where);
    items.push('wifi');
  }
  return items;
}

/**
 * `json-config`: the settings are fields of a JSON file (balenaOS's config.json: `hostname`,
 * `os.sshKeys`, `developmentMode`), named in the profile; the file's other fields are kept. WiFi
 * goes into JSON fields when the profile names them, else into a file beside it from the
 * template (balenaOS reads NetworkManager keyfiles from `system-connections/`).
 */
export const jsonConfig: ProvisionMethod = {
  filesystems: ['vfat', 'ext2', 'ext3', 'ext4'],
  async plan(cfg, ctx) {
    const spec = ctx.os.configure?.json;
    if (!spec)
      throw new InputError(
        `${ctx.os.file}: configure.method json-config needs configure.json (file and fields)`,
        {
          file: ctx.os.file,
          field: 'configure.json',
        },
      );
    const json = await readJson(ctx, spec.file);
    const items = applyFields(cfg, ctx, json, `${ctx.image}: ${spec.file}`);
    const out: PlannedWrite[] = [];
    if (items.length)
      out.push({
        item: items.join(', '),
        path: spec.file,
        content: `${JSON.stringify(json, null, 2)}\n`,
        mode: 0o600,
      });
    if (cfg.wifiSsid !== undefined && !items.includes('wifi'))
      out.push({
        item: 'wifi',
        path: specPath(fileFor(ctx.os, 'wifi')),
        content: wifiContent(cfg, ctx.os),
        mode: 0o600,
      });
    return out;
  },
};
