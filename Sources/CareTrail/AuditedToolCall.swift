public import AuditCore
import AuditStorage
import Foundation

/// Who is calling a tool, for what, and on which patient: everything a tool call's audit
/// record needs besides the tool's own arguments and outcome.
public struct ToolCallContext: Sendable, Hashable {
    public var tenantID: String
    public var conversationID: String
    public var userID: String
    public var model: String
    public var purposeOfUse: PurposeOfUse
    public var patientID: String?
    public var patientIDs: [String]?
    public var traceID: String?
    public var turnNumber: Int?
    public var userRole: String?
    public var trigger: Trigger
    public var action: ToolAction
    public var sessionMetadata: [String: JSONValue]?
    public var breakGlass: BreakGlass?

    public init(
        tenantID: String, conversationID: String, userID: String, model: String, purposeOfUse: PurposeOfUse,
        patientID: String? = nil, patientIDs: [String]? = nil, traceID: String? = nil, turnNumber: Int? = nil,
        userRole: String? = nil, trigger: Trigger = .userRequest, action: ToolAction = .read,
        sessionMetadata: [String: JSONValue]? = nil, breakGlass: BreakGlass? = nil
    ) {
        self.tenantID = tenantID
        self.conversationID = conversationID
        self.userID = userID
        self.model = model
        self.purposeOfUse = purposeOfUse
        self.patientID = patientID
        self.patientIDs = patientIDs
        self.traceID = traceID
        self.turnNumber = turnNumber
        self.userRole = userRole
        self.trigger = trigger
        self.action = action
        self.sessionMetadata = sessionMetadata
        self.breakGlass = breakGlass
    }
}

extension AuditLog {
    /// Runs a tool handler and records the call: its arguments, duration, and result or error.
    ///
    /// Fail closed: if the record cannot be written durably, this throws a
    /// ``CareTrailError`` with code ``CareTrailError/Code/auditWriteFailed`` instead of
    /// returning the tool's result, so no unaudited access reaches the model. If the tool
    /// throws, its error is recorded and then rethrown.
    ///
    /// - Parameters:
    ///   - tool: the tool's name.
    ///   - arguments: what the tool is called with (sanitised before storage).
    ///   - context: who, for what, on which patient.
    ///   - summary: how to record the tool's output as JSON (sanitised and summarised before storage).
    ///   - handler: the tool itself.
    public func audited<Output: Sendable>(
        tool: String, arguments: [String: JSONValue], context: ToolCallContext,
        summary: (Output) -> [String: JSONValue], _ handler: () async throws -> Output
    ) async throws -> Output {
        let started = ContinuousClock.now
        let timestamp = SystemClock.now()
        let outcome: Result<Output, any Error>
        do {
            outcome = .success(try await handler())
        } catch {
            outcome = .failure(error)
        }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var call = ToolCall(
            tenantID: context.tenantID, conversationID: context.conversationID, userID: context.userID,
            model: context.model, toolName: tool, purposeOfUse: context.purposeOfUse, patientID: context.patientID,
            patientIDs: context.action == .execute ? (context.patientIDs ?? []) : context.patientIDs,
            timestamp: timestamp, traceID: context.traceID, turnNumber: context.turnNumber,
            userRole: context.userRole, trigger: context.trigger, action: context.action, arguments: arguments,
            durationMS: (milliseconds * 100).rounded() / 100, sessionMetadata: context.sessionMetadata,
            breakGlass: context.breakGlass
        )
        switch outcome {
        case .success(let output): call.result = summary(output)
        case .failure(let error):
            call.error = .object(["type": .string(String(describing: type(of: error))), "message": .string(String(describing: error))])
        }
        do {
            _ = try await record(.toolCall(call))
        } catch {
            throw CareTrailError(
                code: .auditWriteFailed,
                message: "the tool call could not be recorded, so its result is withheld: \(error.message)"
            )
        }
        return try outcome.get()
    }

    /// ``audited(tool:arguments:context:summary:_:)`` for tools whose output is `Encodable`:
    /// the output is recorded as its JSON encoding.
    public func audited<Output: Encodable & Sendable>(
        tool: String, arguments: [String: JSONValue], context: ToolCallContext,
        _ handler: () async throws -> Output
    ) async throws -> Output {
        try await audited(tool: tool, arguments: arguments, context: context, summary: Self.jsonObject, handler)
    }

    static func jsonObject<Output: Encodable>(_ output: Output) -> [String: JSONValue] {
        guard let data = try? JSONEncoder().encode(output), let value = try? JSONParser.parse(Array(data)) else {
            return ["unencodable_result": .bool(true)]
        }
        if case .object(let members) = value { return members }
        return ["value": value]
    }
}
