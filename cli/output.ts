// Where commands write: injected so that tests can run the CLI in-process.

export interface Output {
  json(value: unknown): void;
  line(text: string): void;
  error(text: string): void;
}

export const processOutput: Output = {
  json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  line: (text) => process.stdout.write(`${text}\n`),
  error: (text) => process.stderr.write(`${text}\n`),
};
