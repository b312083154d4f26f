/** One CLI command. `run` returns the exit code; CanopyErrors are printed by main. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}
