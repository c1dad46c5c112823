/**
 * The Module base class: a container of parameters (Tensor-valued own properties) and
 * submodules (Module-valued own properties, or arrays of them), with PyTorch-style names.
 * Tensors are immutable, so "loading" parameters replaces the properties.
 *
 * @example
 * class MLP extends Module {
 *   fc1 = new Linear(4, 8, { seed: 0 }); fc2 = new Linear(8, 2, { seed: 1 });
 *   forward(x: Tensor) { return this.fc2.forward(this.fc1.forward(x).relu()); }
 * }
 * new MLP().namedParameters().map(([n]) => n) // ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
 */
import { Tensor } from "../tensor.js";
import { castTo, shapeError, valueError } from "../core.js";
import { fmtShape } from "../../jit/ir.js";

/** Where a parameter lives: its owner and the property holding it. */
interface Slot { name: string; owner: Module; key: string }

export abstract class Module {
  /** Computes the module's output. */
  abstract forward(...args: unknown[]): Tensor;

  /** Direct submodules with their names (properties; arrays of modules as "key.i"). */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v)) v.forEach((m, i) => { if (m instanceof Module) out.push([`${k}.${i}`, m]); });
    }
    return out;
  }

  /** Every (sub)module's parameter slot, depth first, each tensor once (shared ones by first name). */
  private slots(): Slot[] {
    const out: Slot[] = [], seen = new Set<Tensor>(), visited = new Set<Module>();
    const walk = (m: Module, prefix: string) => {
      if (visited.has(m)) return;
      visited.add(m);
      for (const [k, v] of Object.entries(m))
        if (v instanceof Tensor && !seen.has(v)) { seen.add(v); out.push({ name: prefix + k, owner: m, key: k }); }
      for (const [n, c] of m.namedChildren()) walk(c, `${prefix}${n}.`);
    };
    walk(this, "");
    return out;
  }

  /** Parameters with dotted names, e.g. ["0.weight", tensor]. */
  namedParameters(): [string, Tensor][] {
    return this.slots().map((s) => [s.name, (s.owner as unknown as Record<string, Tensor>)[s.key]!]);
  }

  /** All parameters (each shared tensor once). */
  parameters(): Tensor[] { return this.namedParameters().map(([, t]) => t); }

  /** Total number of parameter elements. */
  parameterCount(): number { return this.parameters().reduce((s, t) => s + t.size, 0); }

  /** Parameters by name (a plain object, like PyTorch's state_dict). */
  stateDict(): Record<string, Tensor> { return Object.fromEntries(this.namedParameters()); }

  /**
   * Replaces parameters by name; shapes must match, dtypes are cast to the current ones.
   * With `strict` (default), missing and unexpected names are errors.
   */
  loadStateDict(dict: Record<string, Tensor> | Map<string, Tensor>, strict = true): this {
    const entries = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const slots = this.slots(), names = new Set(slots.map((s) => s.name));
    if (strict) {
      const missing = slots.filter((s) => !entries.has(s.name)).map((s) => s.name);
      const extra = [...entries.keys()].filter((k) => !names.has(k));
      if (missing.length || extra.length)
        valueError("loadStateDict", [missing.length ? `missing ${missing.join(", ")}` : "", extra.length ? `unexpected ${extra.join(", ")}` : ""].filter(Boolean).join("; "),
          "pass strict = false to load a subset");
    }
    for (const s of slots) {
      const t = entries.get(s.name);
      if (t === undefined) continue;
      const own = s.owner as unknown as Record<string, Tensor>, cur = own[s.key]!;
      if (!(t instanceof Tensor)) valueError("loadStateDict", `${s.name} must be a Tensor`);
      if (t.ndim !== cur.ndim || t.shape.some((d, i) => d !== cur.shape[i]))
        shapeError("loadStateDict", `${s.name} has shape ${fmtShape(t.shape)}, the module expects ${fmtShape(cur.shape)}`);
      own[s.key] = castTo(t, cur.dtype);
    }
    return this;
  }
}

/** A layer of a Sequential: a module, or a plain function of one tensor. */
export type Layer = Module | ((x: Tensor) => Tensor);

/**
 * Applies layers in order. Functions (activations) take no parameters; parameter names use
 * each module's position, as in PyTorch ("0.weight").
 * @example new Sequential(new Linear(4, 8, { seed: 0 }), (x) => x.relu(), new Linear(8, 2, { seed: 1 }))
 */
export class Sequential extends Module {
  readonly layers: Layer[];
  constructor(...layers: Layer[]) {
    super();
    layers.forEach((l, i) => {
      if (!(l instanceof Module) && typeof l !== "function") valueError("Sequential", `layer ${i} is neither a Module nor a function`);
    });
    this.layers = layers;
  }
  override namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    this.layers.forEach((l, i) => { if (l instanceof Module) out.push([String(i), l]); });
    return out;
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const l of this.layers) y = l instanceof Module ? l.forward(y) : l(y);
    return y;
  }
  get length(): number { return this.layers.length; }
}
