import CareTrailCLI

await CareTrailCommand.runFromCommandLine()
