import AuditCore
import Foundation

extension AuditEventMapper {
    /// What every AuditEvent repeats (codings, profiles, URLs), rendered once for each format.
    enum Constants {
        typealias V = FHIRVocabulary

        /// The elements that differ between R4 and R5.
        final class Release: Sendable {
            let meta: FHIRConstant
            /// R4 `type`, R5 `category`: RESTful operation.
            let restType: FHIRConstant
            /// R4 `subtype`, R5 `code`, by action.
            let interaction: [String: FHIRConstant]
            let patientRole: FHIRConstant
            let queryRole: FHIRConstant
            let resourceRole: FHIRConstant
            /// R4 `type`, R5 `category`: Security Alert.
            let securityAlert: FHIRConstant
            /// R4 `subtype`, R5 `code`: Emergency Override Started.
            let emergencyOverride: FHIRConstant
            /// R5 `code` of an alert that is not break-the-glass.
            let securityAlertCode: FHIRConstant

            init(
                meta: FHIRConstant, restType: FHIRConstant, interaction: [String: FHIRConstant], patientRole: FHIRConstant,
                queryRole: FHIRConstant, resourceRole: FHIRConstant, securityAlert: FHIRConstant, emergencyOverride: FHIRConstant,
                securityAlertCode: FHIRConstant
            ) {
                self.meta = meta
                self.restType = restType
                self.interaction = interaction
                self.patientRole = patientRole
                self.queryRole = queryRole
                self.resourceRole = resourceRole
                self.securityAlert = securityAlert
                self.emergencyOverride = emergencyOverride
                self.securityAlertCode = securityAlertCode
            }
        }

        static func codings(_ codings: FHIRNode...) -> FHIRNode { .object([.init("coding", .array(codings))]) }

        static let interactions: [(ToolAction, String)] = [
            (.read, "read"), (.execute, "search-type"), (.create, "create"), (.update, "update"), (.delete, "delete"),
        ]

        static let r4: Release = {
            let dicom = { (code: String) in V.coding(V.dicom, code) }
            return Release(
                meta: FHIRConstant("meta", .object([.init("profile", .array([.string(V.profileR4)]))])),
                restType: FHIRConstant("type", V.coding(V.auditEventType, "rest")),
                interaction: Dictionary(
                    uniqueKeysWithValues: interactions.map {
                        ($0.0.rawValue, FHIRConstant("subtype", .array([V.coding(V.restfulInteraction, $0.1)])))
                    }),
                patientRole: FHIRConstant("role", V.coding(V.objectRole, "1")),
                queryRole: FHIRConstant("role", V.coding(V.objectRole, "24")),
                resourceRole: FHIRConstant("role", V.coding(V.objectRole, "4")),
                securityAlert: FHIRConstant("type", dicom("110113")),
                emergencyOverride: FHIRConstant("subtype", .array([dicom("110127")])),
                securityAlertCode: FHIRConstant("subtype", .array([dicom("110113")])))
        }()

        static let r5: Release = {
            let dicom = { (code: String) in V.coding(V.dicom, code) }
            return Release(
                meta: FHIRConstant("meta", .object([.init("profile", .array([.string(V.profileR5)]))])),
                restType: FHIRConstant("category", .array([codings(V.coding(V.auditEventType, "rest"))])),
                interaction: Dictionary(
                    uniqueKeysWithValues: interactions.map {
                        ($0.0.rawValue, FHIRConstant("code", codings(V.coding(V.restfulInteraction, $0.1))))
                    }),
                patientRole: FHIRConstant("role", codings(V.coding(V.objectRole, "1"))),
                queryRole: FHIRConstant("role", codings(V.coding(V.objectRole, "24"))),
                resourceRole: FHIRConstant("role", codings(V.coding(V.objectRole, "4"))),
                securityAlert: FHIRConstant("category", .array([codings(dicom("110113"))])),
                emergencyOverride: FHIRConstant("code", codings(dicom("110127"))),
                securityAlertCode: FHIRConstant("code", codings(dicom("110113"))))
        }()

        /// R5 `outcome.code`, by outcome code.
        static let outcomeCodesR5: [String: FHIRConstant] = Dictionary(
            uniqueKeysWithValues: ["0", "4", "8", "12"].map {
                ($0, FHIRConstant("code", V.coding(V.eventOutcomeR5, $0, AuditEventMapper.outcomeDisplay[$0])))
            })

        /// The `coding` of each purpose of use, by code.
        static let purposeCodings: [String: FHIRConstant] = Dictionary(
            uniqueKeysWithValues: PurposeOfUse.all.map {
                ($0.code, FHIRConstant("coding", .array([V.coding(V.actReason, $0.code, $0.display)])))
            })

        // Agent and source types (the same in R4 and R5).
        static let userType = FHIRConstant("type", codings(V.coding(V.participationType, "IRCP")))
        static let application = FHIRConstant("type", codings(V.coding(V.dicom, "110150")))
        static let destinationApplication = FHIRConstant("type", codings(V.coding(V.dicom, "110152"), V.coding(V.dicom, "110150")))
        static let sourceApplication = FHIRConstant("type", codings(V.coding(V.dicom, "110153"), V.coding(V.dicom, "110150")))
        static let source = FHIRConstant("type", codings(V.coding(V.dicom, "110153")))
        static let destination = FHIRConstant("type", codings(V.coding(V.dicom, "110152")))
        /// R4 `source.type` is a list of Coding; R5 made it a list of CodeableConcept.
        static let sourceTypes = FHIRConstant("type", .array([V.coding(V.sourceType, "4")]))
        static let sourceTypesR5 = FHIRConstant("type", .array([codings(V.coding(V.sourceType, "4"))]))
        static let personType = FHIRConstant("type", V.coding(V.entityType, "1"))
        static let systemObjectType = FHIRConstant("type", V.coding(V.entityType, "2"))

        // Extension URLs.
        static let toolName = FHIRText(V.Extension.toolName.url)
        static let conversationID = FHIRText(V.Extension.conversationID.url)
        static let traceID = FHIRText(V.Extension.traceID.url)
        static let turnNumber = FHIRText(V.Extension.turnNumber.url)
        static let trigger = FHIRText(V.Extension.trigger.url)
        static let durationMS = FHIRText(V.Extension.durationMS.url)
        static let tokenUsage = FHIRText(V.Extension.tokenUsage.url)
        static let chainEntry = FHIRText(V.Extension.chainEntry.url)
        static let tenant = FHIRText(V.Extension.tenant.url)
        static let alert = FHIRText(V.Extension.alert.url)
        static let inputTokens = FHIRText("input_tokens")
        static let outputTokens = FHIRText("output_tokens")
        static let costUSD = FHIRText("cost_usd")
        static let seq = FHIRText("seq")
        static let hash = FHIRText("hash")
        static let kind = FHIRText("kind")
        static let severity = FHIRText("severity")
        static let entry = FHIRText("entry")

        // Systems and fixed texts.
        static let triggerSystem = FHIRText(V.triggerSystem)
        /// The display of each trigger code: the code with spaces for underscores.
        static let triggerDisplays: [String: FHIRText] = Dictionary(
            uniqueKeysWithValues: Trigger.allCases.map {
                ($0.rawValue, FHIRText($0.rawValue.replacingOccurrences(of: "_", with: " ")))
            })
        static let userSystem = FHIRText(V.userSystem)
        static let observerSystem = FHIRText(V.observerSystem)
        static let toolCallSystem = FHIRText(V.toolCallSystem)
        static let careTrail = FHIRText("CareTrail")
        static let detector = FHIRText("CareTrail anomaly detection")
        static let argumentsText = FHIRText("arguments")
        static let resultText = FHIRText("result")
    }
}
