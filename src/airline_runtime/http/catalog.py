"""Controllers of the catalog: cities, airports, airplanes and flights under ``/api/v1``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from airline_core import (
    Airline,
    AirplaneFilter,
    AirportFilter,
    CityFilter,
    FlightFilter,
    FlightStatus,
    InvalidRequest,
    PageRequest,
)
from airline_core.catalog.model import is_iata_code
from airline_runtime.http.guards import admin_only
from airline_runtime.http.problems import problem_responses
from airline_runtime.http.schemas import (
    AirplaneCreate,
    AirplaneList,
    AirplanePatch,
    AirplaneResponse,
    AirportCreate,
    AirportList,
    AirportPatch,
    AirportResponse,
    CityCreate,
    CityList,
    CityPatch,
    CityResponse,
    FlightCreate,
    FlightList,
    FlightPatch,
    FlightResponse,
    airplane_out,
    airport_out,
    city_out,
    fares_in,
    flight_out,
    given,
    layout_in,
    meta_of,
)

__all__ = ["AirplaneController", "AirportController", "CityController", "FlightController"]

# The airline comes from the app's ``airline`` dependency (see airline_runtime.http.app).
AirlineDependency = NamedDependency[Airline]

Limit = Annotated[int, QueryParameter(description="page size, 1..200")]
After = Annotated[str | None, QueryParameter(description="cursor: meta.after of the page before")]
Before = Annotated[str | None, QueryParameter(description="cursor: meta.before of the page after")]


def _page(limit: int, after: str | None, before: str | None) -> PageRequest:
    return PageRequest(limit=limit, after=after, before=before)


def _code(value: str | None, field: str) -> str | None:
    if value is not None and not is_iata_code(value):
        raise InvalidRequest.for_field(field, f"{value!r} is not three upper-case letters")
    return value


def _path_code(code: str) -> str:
    if not is_iata_code(code):
        raise InvalidRequest.for_field("code", f"{code!r} is not three upper-case letters")
    return code


class CityController(Controller):
    path = "/api/v1/cities"
    tags = ("catalog",)

    @get(
        summary="List cities",
        description="Ordered by code; `name` matches any part.",
        responses=problem_responses(422),
    )
    async def list_cities(
        self,
        airline: AirlineDependency,
        code: FromQuery[str | None] = None,
        name: FromQuery[str | None] = None,
        country: FromQuery[str | None] = None,
        limit: Limit = 50,
        after: After = None,
        before: Before = None,
    ) -> CityList:
        page = await airline.cities.list(
            CityFilter(code=_code(code, "code"), name=name, country=country),
            _page(limit, after, before),
        )
        return CityList(data=[city_out(c) for c in page.items], meta=meta_of(page))

    @post(
        summary="Create a city",
        guards=[admin_only],
        responses=problem_responses(401, 403, 400, 409, 413, 422),
    )
    async def create_city(
        self, airline: AirlineDependency, data: JSONBody[CityCreate]
    ) -> CityResponse:
        city = await airline.cities.create(code=data.code, name=data.name, country=data.country)
        return CityResponse(data=city_out(city))

    @get("/{city_id:str}", summary="Get a city", responses=problem_responses(404))
    async def get_city(self, airline: AirlineDependency, city_id: FromPath[str]) -> CityResponse:
        return CityResponse(data=city_out(await airline.cities.get(city_id)))

    @patch(
        "/{city_id:str}",
        summary="Change a city",
        description="Its code never changes.",
        guards=[admin_only],
        responses=problem_responses(401, 403, 400, 404, 409, 413, 422),
    )
    async def update_city(
        self, airline: AirlineDependency, city_id: FromPath[str], data: JSONBody[CityPatch]
    ) -> CityResponse:
        city = await airline.cities.update(
            city_id, name=given(data.name), country=given(data.country)
        )
        return CityResponse(data=city_out(city))

    @delete(
        "/{city_id:str}",
        summary="Delete a city",
        description="409 while it has airports.",
        guards=[admin_only],
        responses=problem_responses(401, 403, 404, 409),
    )
    async def delete_city(self, airline: AirlineDependency, city_id: FromPath[str]) -> None:
        await airline.cities.delete(city_id)


class AirportController(Controller):
    path = "/api/v1/airports"
    tags = ("catalog",)

    @get(
        summary="List airports",
        description="Ordered by code; `name` matches any part.",
        responses=problem_responses(422),
    )
    async def list_airports(
        self,
        airline: AirlineDependency,
        code: FromQuery[str | None] = None,
        name: FromQuery[str | None] = None,
        city: FromQuery[str | None] = None,
        country: FromQuery[str | None] = None,
        limit: Limit = 50,
        after: After = None,
        before: Before = None,
    ) -> AirportList:
        criteria = AirportFilter(
            code=_code(code, "code"), name=name, city=_code(city, "city"), country=country
        )
        page = await airline.airports.list(criteria, _page(limit, after, before))
        return AirportList(data=[airport_out(a) for a in page.items], meta=meta_of(page))

    @post(
        summary="Create an airport",
        description="Its city must exist.",
        guards=[admin_only],
        responses=problem_responses(401, 403, 400, 409, 413, 422),
    )
    async def create_airport(
        self, airline: AirlineDependency, data: JSONBody[AirportCreate]
    ) -> AirportResponse:
        airport = await airline.airports.create(
            code=data.code,
            name=data.name,
            city=data.city,
            country=data.country,
            time_zone=data.time_zone,
            latitude=data.latitude,
            longitude=data.longitude,
        )
        return AirportResponse(data=airport_out(airport))

    @get(
        "/{code:str}", summary="Get an airport by IATA code", responses=problem_responses(404, 422)
    )
    async def get_airport(self, airline: AirlineDependency, code: FromPath[str]) -> AirportResponse:
        return AirportResponse(data=airport_out(await airline.airports.get(_path_code(code))))

    @patch(
        "/{code:str}",
        summary="Change an airport",
        description="Its code never changes; its time zone cannot change while flights use it.",
        guards=[admin_only],
        responses=problem_responses(401, 403, 400, 404, 409, 413, 422),
    )
    async def update_airport(
        self, airline: AirlineDependency, code: FromPath[str], data: JSONBody[AirportPatch]
    ) -> AirportResponse:
        airport = await airline.airports.update(
            _path_code(code),
            name=given(data.name),
            city=given(data.city),
            country=given(data.country),
            time_zone=given(data.time_zone),
            latitude=given(data.latitude),
            longitude=given(data.longitude),
        )
        return AirportResponse(data=airport_out(airport))

    @delete(
        "/{code:str}",
        summary="Delete an airport",
        description="409 while flights use it.",
        guards=[admin_only],
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def delete_airport(self, airline: AirlineDependency, code: FromPath[str]) -> None:
        await airline.airports.delete(_path_code(code))


class AirplaneController(Controller):
    path = "/api/v1/airplanes"
    tags = ("catalog",)

    @get(
        summary="List airplanes",
        description="Ordered by creation; `model` matches any part.",
        responses=problem_responses(422),
    )
    async def list_airplanes(
        self,
        airline: AirlineDependency,
        model: FromQuery[str | None] = None,
        limit: Limit = 50,
        after: After = None,
        before: Before = None,
    ) -> AirplaneList:
        page = await airline.airplanes.list(
            AirplaneFilter(model=model), _page(limit, after, before)
        )
        return AirplaneList(data=[airplane_out(a) for a in page.items], meta=meta_of(page))

    @post(
        summary="Create an airplane with its seat layout",
        guards=[admin_only],
        responses=problem_responses(401, 403, 400, 409, 413, 422),
    )
    async def create_airplane(
        self, airline: AirlineDependency, data: JSONBody[AirplaneCreate]
    ) -> AirplaneResponse:
        airplane = await airline.airplanes.create(model=data.model, layout=layout_in(data.layout))
        return AirplaneResponse(data=airplane_out(airplane))

    @get("/{airplane_id:str}", summary="Get an airplane", responses=problem_responses(404))
    async def get_airplane(
        self, airline: AirlineDependency, airplane_id: FromPath[str]
    ) -> AirplaneResponse:
        return AirplaneResponse(data=airplane_out(await airline.airplanes.get(airplane_id)))

    @patch(
        "/{airplane_id:str}",
        summary="Rename or reconfigure an airplane",
        description="While flights use it, a new layout must keep the same cabins.",
        guards=[admin_only],
        responses=problem_responses(401, 403, 400, 404, 409, 413, 422),
    )
    async def update_airplane(
        self, airline: AirlineDependency, airplane_id: FromPath[str], data: JSONBody[AirplanePatch]
    ) -> AirplaneResponse:
        layout = given(data.layout)
        airplane = await airline.airplanes.update(
            airplane_id,
            model=given(data.model),
            layout=None if layout is None else layout_in(layout),
        )
        return AirplaneResponse(data=airplane_out(airplane))

    @delete(
        "/{airplane_id:str}",
        summary="Delete an airplane",
        description="409 while it flies.",
        guards=[admin_only],
        responses=problem_responses(401, 403, 404, 409),
    )
    async def delete_airplane(self, airline: AirlineDependency, airplane_id: FromPath[str]) -> None:
        await airline.airplanes.delete(airplane_id)


class FlightController(Controller):
    path = "/api/v1/flights"
    tags = ("catalog",)

    @get(
        summary="List flights",
        description="Ordered by departure; `departs_on` is the local date at the origin.",
        responses=problem_responses(422),
    )
    async def list_flights(
        self,
        airline: AirlineDependency,
        number: FromQuery[str | None] = None,
        airline_code: Annotated[str | None, QueryParameter(name="airline")] = None,
        origin: FromQuery[str | None] = None,
        destination: FromQuery[str | None] = None,
        departs_on: FromQuery[date | None] = None,
        status: FromQuery[FlightStatus | None] = None,
        limit: Limit = 50,
        after: After = None,
        before: Before = None,
    ) -> FlightList:
        criteria = FlightFilter(
            number=number,
            airline=airline_code,
            origin=_code(origin, "origin"),
            destination=_code(destination, "destination"),
            departs_on=departs_on,
            status=status,
        )
        page = await airline.flights.list(criteria, _page(limit, after, before))
        return FlightList(data=[flight_out(f) for f in page.items], meta=meta_of(page))

    @post(
        summary="Schedule a flight",
        description="Fares must price exactly the airplane's cabins; times need a UTC offset.",
        guards=[admin_only],
        responses=problem_responses(401, 403, 400, 409, 413, 422),
    )
    async def create_flight(
        self, airline: AirlineDependency, data: JSONBody[FlightCreate]
    ) -> FlightResponse:
        flight = await airline.flights.create(
            number=data.number,
            airline=data.airline,
            airplane_id=data.airplane_id,
            origin=data.origin,
            destination=data.destination,
            departs_at=data.departs_at,
            arrives_at=data.arrives_at,
            fares=fares_in(data.fares),
        )
        return FlightResponse(data=flight_out(flight))

    @get("/{flight_id:str}", summary="Get a flight", responses=problem_responses(404))
    async def get_flight(
        self, airline: AirlineDependency, flight_id: FromPath[str]
    ) -> FlightResponse:
        return FlightResponse(data=flight_out(await airline.flights.get(flight_id)))

    @patch(
        "/{flight_id:str}",
        summary="Retime, re-equip, reprice or change the status of a flight",
        description="Number, airline and route never change; a cancelled flight stays cancelled.",
        guards=[admin_only],
        responses=problem_responses(401, 403, 400, 404, 409, 413, 422),
    )
    async def update_flight(
        self, airline: AirlineDependency, flight_id: FromPath[str], data: JSONBody[FlightPatch]
    ) -> FlightResponse:
        fares = given(data.fares)
        flight = await airline.flights.update(
            flight_id,
            airplane_id=given(data.airplane_id),
            departs_at=given(data.departs_at),
            arrives_at=given(data.arrives_at),
            fares=None if fares is None else fares_in(fares),
            status=given(data.status),
        )
        return FlightResponse(data=flight_out(flight))

    @delete(
        "/{flight_id:str}",
        summary="Delete a flight",
        guards=[admin_only],
        responses=problem_responses(401, 403, 404),
    )
    async def delete_flight(self, airline: AirlineDependency, flight_id: FromPath[str]) -> None:
        await airline.flights.delete(flight_id)
