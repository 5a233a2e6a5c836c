import ArgumentParser
import CareTrailCLI

CareTrailCommand.main()
