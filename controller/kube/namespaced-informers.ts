// Informers of one kind, one per namespace, for the namespaces that matter now. Secrets are watched
// this way (the controller's own namespace plus every namespace a Tenant claims), so the controller
// needs read access to Secrets only where it works, never to every Secret in the cluster.
import { Informer, type InformerHandlers, type InformerOptions, type KubeObject } from "./informer.ts";

export class NamespacedInformers {
  readonly #make: (namespace: string) => Informer<KubeObject>;
  readonly #handlers: InformerHandlers<KubeObject>;
  readonly #byNamespace = new Map<string, Informer<KubeObject>>();
  #stopped = false;

  /** `resource` is the plural ("secrets") of a core/v1 kind. */
  constructor(options: Omit<InformerOptions, "path">, resource: string, handlers: InformerHandlers<KubeObject>) {
    this.#make = (namespace) => new Informer({ ...options, path: `/api/v1/namespaces/${namespace}/${resource}` });
    this.#handlers = handlers;
  }

  /** Watches exactly these namespaces: starts what is new, stops what is gone (its objects are deleted). */
  setNamespaces(namespaces: Iterable<string>): void {
    if (this.#stopped) return;
    const wanted = new Set(namespaces);
    for (const [namespace, informer] of this.#byNamespace) {
      if (wanted.has(namespace)) continue;
      this.#byNamespace.delete(namespace);
      const gone = informer.list();
      void informer.stop();
      for (const object of gone) this.#handlers.delete?.(object);
    }
    for (const namespace of wanted) {
      if (this.#byNamespace.has(namespace)) continue;
      this.#byNamespace.set(namespace, this.#make(namespace).on(this.#handlers).start());
    }
  }

  get(name: string, namespace: string): KubeObject | undefined {
    return this.#byNamespace.get(namespace)?.get(name, namespace);
  }

  namespaces(): string[] {
    return [...this.#byNamespace.keys()];
  }

  /** Whether the namespace's informer (or, without one named, every informer) has listed once. */
  hasSynced(namespace?: string): boolean {
    if (namespace !== undefined) return this.#byNamespace.get(namespace)?.hasSynced() ?? false;
    return [...this.#byNamespace.values()].every((i) => i.hasSynced());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#byNamespace.values()].map((i) => i.stop()));
    this.#byNamespace.clear();
  }
}
